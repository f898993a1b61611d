// pam_harness: drives real libpam against a private service directory
// (pam_start_confdir), the way mod_authnz_pam does: per request pam_start,
// PAM_RHOST, pam_authenticate and/or pam_acct_mgmt with
// PAM_SILENT|PAM_DISALLOW_NULL_AUTHTOK, pam_end; a conversation that answers
// only PAM_PROMPT_ECHO_OFF and fails on anything else.
//
//   pam_harness --confdir DIR --service SVC [--rhost HOST] [--flags F]
//               [--ops auth,acct,chauthtok,setcred,session] [--chain]
//               [--delay-fn] [--msgs]
//
// Reads requests from stdin, one per line: USER, then TAB-separated answers
// for the echo-off prompts in order (the password for auth; current, new and
// new again for chauthtok). Writes one line per request:
//
//   USER<TAB>auth=PAM_SUCCESS acct=PAM_PERM_DENIED prompts=1 other_msgs=0 delay=-1 pam_user=USER
//
// pam_user: PAM_USER after the ops (a module may have set it to the stored
// spelling of the name), %XX-escaped outside [A-Za-z0-9._-].
//
// and with --msgs a last field msgs=TEXT: the PAM_ERROR_MSG and PAM_TEXT_INFO
// texts the modules sent, joined by "|", percent-encoded (space, %, |, and
// control bytes).
//
// --flags: comma list of silent, disallow_null, or "none"; default
//          silent,disallow_null (mod_authnz_pam's).
// --chain: stop at the first op that fails (mod_authnz_pam runs account only
//          after a successful auth); skipped ops print "-".
// --msgs:  accept PAM_ERROR_MSG and PAM_TEXT_INFO (as a terminal shows them)
//          and print their texts, instead of refusing them.
// --delay-fn: install a PAM_FAIL_DELAY callback that records the delay libpam
//          asks for instead of sleeping; printed as delay=USEC (-1: none).
#include <security/pam_appl.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct ConvState {
    std::vector<std::string> answers;
    size_t next = 0;
    int prompts = 0;      // echo-off prompts answered
    int other_msgs = 0;   // anything else: refused, like mod_authnz_pam
    bool accept_msgs = false;   // --msgs
    std::string msgs;           // their texts, encoded
};

void add_msg(std::string& out, const char* text) {
    static const char hex[] = "0123456789ABCDEF";
    if (!out.empty()) out += '|';
    for (const char* p = text; p && *p; ++p) {
        unsigned char c = static_cast<unsigned char>(*p);
        if (c <= 0x20 || c == '%' || c == '|' || c >= 0x7f) {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
}

int conv(int n, const struct pam_message** msg, struct pam_response** resp, void* data) {
    auto* st = static_cast<ConvState*>(data);
    if (n <= 0 || n > PAM_MAX_NUM_MSG) return PAM_CONV_ERR;
    auto* r = static_cast<pam_response*>(calloc(static_cast<size_t>(n), sizeof(pam_response)));
    if (r == nullptr) return PAM_BUF_ERR;
    for (int i = 0; i < n; ++i) {
        if (st->accept_msgs &&
            (msg[i]->msg_style == PAM_ERROR_MSG || msg[i]->msg_style == PAM_TEXT_INFO)) {
            ++st->other_msgs;
            add_msg(st->msgs, msg[i]->msg);
            continue;
        }
        if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF || st->next >= st->answers.size()) {
            if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF) ++st->other_msgs;
            for (int j = 0; j < i; ++j) {
                if (r[j].resp) {
                    explicit_bzero(r[j].resp, strlen(r[j].resp));
                    free(r[j].resp);
                }
            }
            free(r);
            return PAM_CONV_ERR;
        }
        ++st->prompts;
        r[i].resp = strdup(st->answers[st->next++].c_str());
        if (r[i].resp == nullptr) {
            for (int j = 0; j < i; ++j) free(r[j].resp);
            free(r);
            return PAM_BUF_ERR;
        }
    }
    *resp = r;
    return PAM_SUCCESS;
}

long g_delay = -1;
// libpam hands the callback the delay with every status; like libpam's own
// sleep, only a failure counts.
void record_delay(int status, unsigned usec, void*) {
    if (status != PAM_SUCCESS) g_delay = static_cast<long>(usec);
}

const char* code_name(int rc) {
    switch (rc) {
#define C(x) case x: return #x;
        C(PAM_SUCCESS) C(PAM_OPEN_ERR) C(PAM_SYMBOL_ERR) C(PAM_SERVICE_ERR) C(PAM_SYSTEM_ERR)
        C(PAM_BUF_ERR) C(PAM_PERM_DENIED) C(PAM_AUTH_ERR) C(PAM_CRED_INSUFFICIENT)
        C(PAM_AUTHINFO_UNAVAIL) C(PAM_USER_UNKNOWN) C(PAM_MAXTRIES) C(PAM_NEW_AUTHTOK_REQD)
        C(PAM_ACCT_EXPIRED) C(PAM_SESSION_ERR) C(PAM_CRED_UNAVAIL) C(PAM_CRED_EXPIRED)
        C(PAM_CRED_ERR) C(PAM_NO_MODULE_DATA) C(PAM_CONV_ERR) C(PAM_AUTHTOK_ERR)
        C(PAM_AUTHTOK_RECOVERY_ERR) C(PAM_AUTHTOK_LOCK_BUSY) C(PAM_AUTHTOK_DISABLE_AGING)
        C(PAM_TRY_AGAIN) C(PAM_IGNORE) C(PAM_ABORT) C(PAM_AUTHTOK_EXPIRED)
        C(PAM_MODULE_UNKNOWN) C(PAM_BAD_ITEM) C(PAM_CONV_AGAIN) C(PAM_INCOMPLETE)
#undef C
    }
    return "PAM_UNKNOWN_CODE";
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::string cur;
    std::istringstream in(s);
    while (std::getline(in, cur, sep)) out.push_back(cur);
    if (!s.empty() && s.back() == sep) out.emplace_back();
    return out;
}

int usage() {
    fprintf(stderr, "usage: pam_harness --confdir DIR --service SVC [--rhost HOST] [--flags F] "
                    "[--ops LIST] [--chain] [--delay-fn] [--msgs] < requests\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::string confdir, service, rhost = "127.0.0.1", ops_arg = "auth,acct";
    int flags = PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK;
    bool chain = false, delay_fn = false, msgs = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) exit(usage());
            return argv[++i];
        };
        if (a == "--confdir") confdir = next();
        else if (a == "--service") service = next();
        else if (a == "--rhost") rhost = next();
        else if (a == "--ops") ops_arg = next();
        else if (a == "--chain") chain = true;
        else if (a == "--delay-fn") delay_fn = true;
        else if (a == "--msgs") msgs = true;
        else if (a == "--flags") {
            flags = 0;
            for (const auto& f : split(next(), ',')) {
                if (f == "silent") flags |= PAM_SILENT;
                else if (f == "disallow_null") flags |= PAM_DISALLOW_NULL_AUTHTOK;
                else if (f != "none" && !f.empty()) return usage();
            }
        } else return usage();
    }
    if (confdir.empty() || service.empty()) return usage();
    std::vector<std::string> ops = split(ops_arg, ',');

    std::string line;
    while (std::getline(std::cin, line)) {
        std::vector<std::string> fields = split(line, '\t');
        if (fields.empty()) fields.emplace_back();
        ConvState st;
        st.accept_msgs = msgs;
        st.answers.assign(fields.begin() + 1, fields.end());
        struct pam_conv pc = {conv, &st};
        pam_handle_t* pamh = nullptr;
        g_delay = -1;
        std::string out = fields[0] + "\t";
        int rc = pam_start_confdir(service.c_str(), fields[0].c_str(), &pc, confdir.c_str(),
                                   &pamh);
        if (rc != PAM_SUCCESS) {
            printf("%sstart=%s\n", out.c_str(), code_name(rc));
            fflush(stdout);
            continue;
        }
        pam_set_item(pamh, PAM_RHOST, rhost.c_str());
        if (delay_fn) {
            void (*fn)(int, unsigned, void*) = record_delay;
            pam_set_item(pamh, PAM_FAIL_DELAY, reinterpret_cast<const void*>(fn));
        }
        bool stopped = false;
        int last = PAM_SUCCESS;
        for (const auto& op : ops) {
            if (stopped) {
                out += op + "=- ";
                continue;
            }
            if (op == "auth") rc = pam_authenticate(pamh, flags);
            else if (op == "acct") rc = pam_acct_mgmt(pamh, flags);
            else if (op == "chauthtok") rc = pam_chauthtok(pamh, flags & PAM_SILENT);
            else if (op == "setcred") rc = pam_setcred(pamh, PAM_ESTABLISH_CRED | (flags & PAM_SILENT));
            else if (op == "session") {
                rc = pam_open_session(pamh, flags & PAM_SILENT);
                if (rc == PAM_SUCCESS) rc = pam_close_session(pamh, flags & PAM_SILENT);
            } else return usage();
            out += op + "=" + code_name(rc) + " ";
            last = rc;
            if (chain && rc != PAM_SUCCESS) stopped = true;
        }
        const void* item = nullptr;
        std::string pam_user;
        if (pam_get_item(pamh, PAM_USER, &item) == PAM_SUCCESS && item)
            for (const char* p = static_cast<const char*>(item); *p; ++p) {
                unsigned char c = static_cast<unsigned char>(*p);
                if (isalnum(c) || c == '.' || c == '_' || c == '-') {
                    pam_user += char(c);
                } else {
                    char hex[4];
                    snprintf(hex, sizeof hex, "%%%02X", c);
                    pam_user += hex;
                }
            }
        pam_end(pamh, last);
        printf("%sprompts=%d other_msgs=%d delay=%ld pam_user=%s%s%s\n", out.c_str(), st.prompts, st.other_msgs,
               g_delay, pam_user.c_str(), msgs ? " msgs=" : "", st.msgs.c_str());
        fflush(stdout);
    }
    return 0;
}
