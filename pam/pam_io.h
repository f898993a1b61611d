// The seam between the phase logic and libpam. The phases (phases.h) talk
// only to PamIo; PamHandleIo is the real one over a pam_handle_t*, and the
// unit tests script a fake one.
#pragma once

#include <cstdint>
#include <string>

struct pam_handle;
typedef struct pam_handle pam_handle_t;

namespace dj::pam {

// Which token to read; the values mirror the libpam calls.
enum class Token {
    Current,        // pam_get_authtok(PAM_AUTHTOK): the password (auth phase)
    Old,            // pam_get_authtok(PAM_OLDAUTHTOK): current password (chauthtok)
    NewNoVerify,    // pam_get_authtok_noverify: new password, asked once
    NewVerify,      // pam_get_authtok_verify: ask again and compare
};

// What the host's name service says a user name is (HostUser below).
enum class HostUser {
    None,    // no passwd entry at all (e.g. a web-only host without nss_django)
    Found,   // an entry: its uid is given
    Error,   // the lookup failed: nobody can tell
};

class PamIo {
public:
    virtual ~PamIo() = default;

    // pam_get_user. On PAM_SUCCESS `user` holds the name.
    virtual int get_user(std::string& user) = 0;
    // pam_get_authtok and friends (see Token). On PAM_SUCCESS `tok` holds it.
    // For NewVerify, `tok` holds the token to compare on entry.
    virtual int get_token(Token which, const char* prompt, std::string& tok) = 0;
    // Whether the item behind `which` (PAM_AUTHTOK, or PAM_OLDAUTHTOK for
    // Token::Old) is already set, e.g. by a module stacked before.
    virtual bool token_preset(Token which) = 0;
    // pam_set_item(PAM_AUTHTOK, NULL): forget a rejected new password.
    virtual void clear_authtok() = 0;
    // pam_set_item(PAM_USER, user).
    virtual int set_user(const std::string& user) = 0;
    // String items (PAM_SERVICE, PAM_RHOST, PAM_TTY, ...); "" when unset.
    virtual std::string item(int item_type) = 0;
    // pam_syslog(pamh, prio, "%s", msg).
    virtual void log(int prio, const std::string& msg) = 0;
    // One conversation message (PAM_ERROR_MSG / PAM_TEXT_INFO).
    virtual int message(int style, const std::string& msg) = 0;
    // One PAM_PROMPT_ECHO_OFF prompt (a one-time code); on PAM_SUCCESS
    // `answer` holds what was typed (the caller wipes it).
    virtual int ask_secret(const std::string& prompt, std::string& answer) = 0;
    // pam_fail_delay.
    virtual void fail_delay(unsigned usec) = 0;
    // getpwnam_r(user) in the calling process, through its nsswitch.conf.
    virtual HostUser host_user(const std::string& user, uint32_t& uid) = 0;
};

// The real thing.
class PamHandleIo final : public PamIo {
public:
    explicit PamHandleIo(pam_handle_t* pamh) : pamh_(pamh) {}
    int get_user(std::string& user) override;
    int get_token(Token which, const char* prompt, std::string& tok) override;
    bool token_preset(Token which) override;
    void clear_authtok() override;
    int set_user(const std::string& user) override;
    std::string item(int item_type) override;
    void log(int prio, const std::string& msg) override;
    int message(int style, const std::string& msg) override;
    int ask_secret(const std::string& prompt, std::string& answer) override;
    void fail_delay(unsigned usec) override;
    HostUser host_user(const std::string& user, uint32_t& uid) override;

private:
    pam_handle_t* pamh_;
};

}  // namespace dj::pam
