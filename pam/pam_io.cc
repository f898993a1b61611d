// PamIo over a real pam_handle_t*.
#include "pam/pam_io.h"

#include <pwd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <syslog.h>

namespace dj::pam {

int PamHandleIo::get_user(std::string& user) {
    const char* u = nullptr;
    int rc = pam_get_user(pamh_, &u, nullptr);
    if (rc != PAM_SUCCESS) return rc;
    if (u == nullptr) return PAM_USER_UNKNOWN;
    user = u;
    return PAM_SUCCESS;
}

int PamHandleIo::get_token(Token which, const char* prompt, std::string& tok) {
    const char* t = nullptr;
    int rc = PAM_SYSTEM_ERR;
    switch (which) {
        case Token::Current: rc = pam_get_authtok(pamh_, PAM_AUTHTOK, &t, prompt); break;
        case Token::Old: rc = pam_get_authtok(pamh_, PAM_OLDAUTHTOK, &t, prompt); break;
        case Token::NewNoVerify: rc = pam_get_authtok_noverify(pamh_, &t, prompt); break;
        case Token::NewVerify:
            // pam_get_authtok_verify compares against *authtok: give it the
            // token we hold (it stays valid for the call).
            t = tok.c_str();
            rc = pam_get_authtok_verify(pamh_, &t, prompt);
            break;
    }
    if (rc != PAM_SUCCESS) return rc;
    if (t == nullptr) return which == Token::Current ? PAM_AUTH_ERR : PAM_AUTHTOK_ERR;
    tok = t;
    return PAM_SUCCESS;
}

bool PamHandleIo::token_preset(Token which) {
    const void* v = nullptr;
    int item = which == Token::Old ? PAM_OLDAUTHTOK : PAM_AUTHTOK;
    return pam_get_item(pamh_, item, &v) == PAM_SUCCESS && v != nullptr;
}

void PamHandleIo::clear_authtok() { pam_set_item(pamh_, PAM_AUTHTOK, nullptr); }

int PamHandleIo::set_user(const std::string& user) { return pam_set_item(pamh_, PAM_USER, user.c_str()); }

std::string PamHandleIo::item(int item_type) {
    const void* v = nullptr;
    if (pam_get_item(pamh_, item_type, &v) != PAM_SUCCESS || v == nullptr) return {};
    return static_cast<const char*>(v);
}

void PamHandleIo::log(int prio, const std::string& msg) {
    pam_syslog(pamh_, prio, "%s", msg.c_str());
}

int PamHandleIo::message(int style, const std::string& msg) {
    char* resp = nullptr;
    int rc = pam_prompt(pamh_, style, &resp, "%s", msg.c_str());
    if (resp != nullptr) free(resp);
    return rc;
}

int PamHandleIo::ask_secret(const std::string& prompt, std::string& answer) {
    char* resp = nullptr;
    int rc = pam_prompt(pamh_, PAM_PROMPT_ECHO_OFF, &resp, "%s", prompt.c_str());
    if (rc == PAM_SUCCESS && resp == nullptr) rc = PAM_CONV_ERR;
    if (resp != nullptr) {
        if (rc == PAM_SUCCESS) answer = resp;
        explicit_bzero(resp, strlen(resp));
        free(resp);
    }
    return rc;
}

void PamHandleIo::fail_delay(unsigned usec) { pam_fail_delay(pamh_, usec); }

HostUser PamHandleIo::host_user(const std::string& user, uint32_t& uid) {
    std::vector<char> buf(4096);
    for (;;) {
        passwd pw;
        passwd* found = nullptr;
        int rc = getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
        if (rc == ERANGE && buf.size() < (1u << 20)) {
            buf.resize(buf.size() * 4);
            continue;
        }
        if (found) {
            uid = found->pw_uid;
            return HostUser::Found;
        }
        // getpwnam_r(3): "not found" may come as 0 or as one of these.
        if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM) return HostUser::None;
        return HostUser::Error;
    }
}

}  // namespace dj::pam
