// Unit tests for pam_django.so's phase logic (pam/phases.cc) and its daemon
// requests (pam/daemon_calls.cc): a scripted PamIo and a fake daemon behind
// the injected transport, which decodes each request frame and answers with a
// real response frame.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
extern "C" {
#include <cmocka.h>
}

#include <security/pam_appl.h>
#include <security/pam_modules.h>
#include <syslog.h>

#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/client.h"
#include "common/protocol.h"
#include "pam/args.h"
#include "pam/daemon_calls.h"
#include "pam/pam_io.h"
#include "pam/phases.h"

using dj::pam::Args;
using dj::pam::DaemonCalls;
using dj::pam::Token;
using dj::proto::Op;
using dj::proto::Status;

namespace {

const char* const kPassword = "s3cret-Pa55";

// --- the fake PAM side ----------------------------------------------------------

struct FakeIo final : dj::pam::PamIo {
    int user_rc = PAM_SUCCESS;
    std::string user = "alice";
    std::string rhost = "203.0.113.7";
    std::string service = "sshd";
    std::optional<std::string> authtok;      // PAM_AUTHTOK
    std::optional<std::string> oldauthtok;   // PAM_OLDAUTHTOK
    std::deque<std::string> answers;         // what the user types at prompts
    int conv_rc = PAM_SUCCESS;               // conversation failure to inject
    int prompts = 0;
    std::vector<std::string> prompt_texts;
    std::vector<std::pair<int, std::string>> logs;
    std::vector<std::pair<int, std::string>> messages;
    unsigned delay_usec = 0;
    int delays = 0;
    int clears = 0;

    int prompt(const char* text, std::string& out) {
        ++prompts;
        prompt_texts.emplace_back(text ? text : "Password: ");
        if (conv_rc != PAM_SUCCESS) return conv_rc;
        if (answers.empty()) return PAM_CONV_ERR;
        out = answers.front();
        answers.pop_front();
        return PAM_SUCCESS;
    }

    int get_user(std::string& u) override {
        if (user_rc != PAM_SUCCESS) return user_rc;
        u = user;
        return PAM_SUCCESS;
    }
    // Mirrors libpam's pam_get_authtok family (libpam/pam_get_authtok.c).
    int get_token(Token which, const char* p, std::string& tok) override {
        std::string got;
        switch (which) {
            case Token::Current:
            case Token::NewNoVerify:
                if (authtok) { tok = *authtok; return PAM_SUCCESS; }
                if (int rc = prompt(p, got); rc != PAM_SUCCESS)
                    return which == Token::Current ? rc : PAM_AUTHTOK_ERR;
                authtok = got;
                tok = got;
                return PAM_SUCCESS;
            case Token::Old:
                if (oldauthtok) { tok = *oldauthtok; return PAM_SUCCESS; }
                if (int rc = prompt(p, got); rc != PAM_SUCCESS) return rc;
                oldauthtok = got;
                tok = got;
                return PAM_SUCCESS;
            case Token::NewVerify:
                if (prompt(p, got) != PAM_SUCCESS) { authtok.reset(); return PAM_AUTHTOK_ERR; }
                if (got != tok) {
                    authtok.reset();
                    messages.emplace_back(PAM_ERROR_MSG, "Sorry, passwords do not match.");
                    return PAM_TRY_AGAIN;
                }
                authtok = got;
                return PAM_SUCCESS;
        }
        return PAM_SYSTEM_ERR;
    }
    bool token_preset(Token which) override {
        return which == Token::Old ? oldauthtok.has_value() : authtok.has_value();
    }
    void clear_authtok() override { ++clears; authtok.reset(); }
    std::vector<std::string> set_users;      // pam_set_item(PAM_USER) calls
    int set_user(const std::string& u) override {
        set_users.push_back(u);
        user = u;
        return PAM_SUCCESS;
    }
    std::string item(int t) override {
        if (t == PAM_RHOST) return rhost;
        if (t == PAM_SERVICE) return service;
        return {};
    }
    void log(int prio, const std::string& msg) override { logs.emplace_back(prio, msg); }
    int message(int style, const std::string& msg) override {
        messages.emplace_back(style, msg);
        return PAM_SUCCESS;
    }
    int ask_secret(const std::string& text, std::string& out) override { return prompt(text.c_str(), out); }
    void fail_delay(unsigned usec) override { delay_usec = usec; ++delays; }
    // What the host's getpwnam says: nothing by default (a web-only host).
    dj::pam::HostUser host = dj::pam::HostUser::None;
    uint32_t host_uid = 0;
    int host_lookups = 0;
    dj::pam::HostUser host_user(const std::string&, uint32_t& uid) override {
        ++host_lookups;
        uid = host_uid;
        return host;
    }

    bool logged(const std::string& what) const {
        for (const auto& l : logs)
            if (l.second.find(what) != std::string::npos) return true;
        return false;
    }
};

// --- the fake daemon --------------------------------------------------------------

struct Request {
    Op op{};
    std::string user, password, service, rhost, old_password, new_password, code;
    std::vector<std::string> groups, permissions;
    uint32_t flags = 0;
    std::optional<uint32_t> otp;   // Authenticate's optional OtpFlags
    bool decoded = false;
};

struct FakeDaemon {
    enum class Mode { Answer, Down, WrongOp, BadVersion };
    Mode mode = Mode::Answer;
    Status status = Status::Ok;
    Status code_status = Status::Ok;   // the answer to AuthenticateWithCode
    std::string text;          // reason / message in the answer
    bool send_text = true;
    std::optional<uint32_t> locked_for;   // Throttled: the lock's seconds left
    std::optional<uint32_t> served_uid;   // PwByName: the Django uid, or NotFound
    std::optional<std::string> served_name;  // PwByName: the stored name (default: as asked)
    int calls = 0;
    std::vector<Request> seen;

    dj::client::Response operator()(const dj::client::Options&, const std::vector<uint8_t>& req) {
        ++calls;
        Request r;
        // the frame: u32 length, then what Reader reads
        assert_true(req.size() >= 8);
        assert_int_equal(dj::proto::read_be32(req.data()), req.size() - 4);
        dj::proto::Reader rd(std::string_view(reinterpret_cast<const char*>(req.data()) + 4,
                                              req.size() - 4));
        assert_true(rd.header_ok());
        assert_int_equal(static_cast<int>(rd.status()), 0);
        r.op = rd.op();
        switch (r.op) {
            case Op::Authenticate:
                r.user = rd.str(); r.password = rd.str(); r.service = rd.str(); r.rhost = rd.str();
                if (rd.ok() && !rd.at_end()) r.otp = rd.u32();
                break;
            case Op::AuthenticateWithCode:
                r.user = rd.str(); r.password = rd.str(); r.code = rd.str(); r.service = rd.str();
                r.rhost = rd.str();
                break;
            case Op::Account:
                r.user = rd.str(); r.groups = rd.strs(); r.flags = rd.u32();
                r.permissions = rd.strs(); r.service = rd.str();
                break;
            case Op::ChangePassword:
                r.user = rd.str(); r.old_password = rd.str(); r.new_password = rd.str();
                r.flags = rd.u32(); r.service = rd.str();
                break;
            case Op::PwByName:
                r.user = rd.str();
                break;
            default:
                fail_msg("unexpected op %d", static_cast<int>(r.op));
        }
        assert_true(rd.at_end());
        r.decoded = true;
        seen.push_back(r);

        dj::client::Response resp;
        if (mode == Mode::Down) {
            resp.error = "connect: No such file or directory";
            return resp;
        }
        Op answer_op = mode == Mode::WrongOp ? Op::Hello : r.op;
        const Status answer = r.op == Op::PwByName               ? (served_uid ? Status::Ok : Status::NotFound)
                              : r.op == Op::AuthenticateWithCode ? code_status
                                                                 : status;
        dj::proto::Writer w(answer_op, answer);
        if (r.op == Op::PwByName) {
            if (served_uid)
                w.passwd({served_name.value_or(r.user), *served_uid, 100, "", "/home/" + r.user, "/bin/sh"});
        } else if (send_text && r.op != Op::Authenticate && r.op != Op::AuthenticateWithCode) {
            w.str(text);
        }
        if (answer == Status::Throttled && locked_for) w.u32(*locked_for);
        auto& f = w.finish();
        resp.frame.assign(reinterpret_cast<const char*>(f.data()) + 4, f.size() - 4);
        if (mode == Mode::BadVersion) resp.frame[0] = 99;
        resp.transport = dj::client::Transport::Ok;
        resp.status = answer;
        return resp;
    }
};

struct World {
    FakeIo io;
    FakeDaemon fake;
    Args args;
    DaemonCalls daemon{dj::client::Options{}, [this](const dj::client::Options& o,
                                                     const std::vector<uint8_t>& req) {
                           return fake(o, req);
                       }};
    World() { args.fail_delay_ms = 2000; }
    int auth(int flags = 0) { return dj::pam::authenticate(io, daemon, args, flags); }
    int acct(int flags = 0) { return dj::pam::acct_mgmt(io, daemon, args, flags); }
    int chauthtok(int flags) { return dj::pam::chauthtok(io, daemon, args, flags); }
    const Request& last() const { return fake.seen.back(); }
};

void assert_no_secret_logged(const World& w, const std::string& secret) {
    for (const auto& l : w.io.logs) assert_true(l.second.find(secret) == std::string::npos);
}

// --- auth --------------------------------------------------------------------------

void test_auth_success(void**) {
    World w;
    w.io.answers = {kPassword};
    assert_int_equal(w.auth(), PAM_SUCCESS);
    assert_int_equal(w.fake.calls, 2);   // then the stored name (PwByName)
    assert_int_equal(static_cast<int>(w.last().op), static_cast<int>(Op::PwByName));
    assert_true(w.io.set_users.empty());  // stored as typed: PAM_USER untouched
    const Request& r = w.fake.seen.front();
    assert_int_equal(static_cast<int>(r.op), static_cast<int>(Op::Authenticate));
    assert_string_equal(r.user.c_str(), "alice");
    assert_string_equal(r.password.c_str(), kPassword);
    assert_string_equal(r.service.c_str(), "sshd");
    assert_string_equal(r.rhost.c_str(), "203.0.113.7");
    assert_int_equal(w.io.prompts, 1);
    assert_int_equal(w.io.delays, 1);
    assert_int_equal(w.io.delay_usec, 2000000);
    assert_true(w.io.messages.empty());
    assert_true(w.io.logged("authentication success; user=alice rhost=203.0.113.7 service=sshd"));
    assert_no_secret_logged(w, kPassword);
    // pam_get_authtok sets PAM_AUTHTOK for the modules after us
    assert_string_equal(w.io.authtok->c_str(), kPassword);
}

void test_auth_wrong_password(void**) {
    World w;
    w.io.answers = {"nope-nope"};
    w.fake.status = Status::WrongPassword;
    assert_int_equal(w.auth(), PAM_AUTH_ERR);
    assert_true(w.io.logged("authentication failure; user=alice rhost=203.0.113.7"));
    assert_no_secret_logged(w, "nope-nope");
    assert_true(w.io.messages.empty());
}

void test_auth_unknown_user(void**) {
    World w;
    w.io.user = "mistyped-password-maybe";
    w.io.answers = {kPassword};
    w.fake.status = Status::NoUser;
    assert_int_equal(w.auth(), PAM_USER_UNKNOWN);
    assert_true(w.io.logged("user=(unknown)"));
    assert_false(w.io.logged("mistyped-password-maybe"));

    World g;   // debug logs before the answer, yet no name until the daemon knows it
    g.args.debug = true;
    g.io.user = "mistyped-password-maybe";
    g.io.answers = {kPassword};
    g.fake.status = Status::NoUser;
    assert_int_equal(g.auth(), PAM_USER_UNKNOWN);
    assert_false(g.io.logged("mistyped-password-maybe"));
    World u;   // nor when the daemon is down
    u.io.user = "mistyped-password-maybe";
    u.io.answers = {kPassword};
    u.fake.mode = FakeDaemon::Mode::Down;
    assert_int_equal(u.auth(), PAM_AUTHINFO_UNAVAIL);
    assert_false(u.io.logged("mistyped-password-maybe"));
    World e;   // nor for an empty password refused before asking
    e.io.user = "mistyped-password-maybe";
    e.io.answers = {""};
    assert_int_equal(e.auth(), PAM_AUTH_ERR);
    assert_false(e.io.logged("mistyped-password-maybe"));

    World a;   // with audit the name is logged
    a.args.audit = true;
    a.io.user = "mistyped-password-maybe";
    a.io.answers = {kPassword};
    a.fake.status = Status::NoUser;
    assert_int_equal(a.auth(), PAM_USER_UNKNOWN);
    assert_true(a.io.logged("user=mistyped-password-maybe"));
    assert_no_secret_logged(a, kPassword);

    World i;
    i.args.ignore_unknown_user = true;
    i.io.answers = {kPassword};
    i.fake.status = Status::NoUser;
    assert_int_equal(i.auth(), PAM_IGNORE);
}

void test_auth_unavailable(void**) {
    for (auto mode : {FakeDaemon::Mode::Down, FakeDaemon::Mode::WrongOp,
                      FakeDaemon::Mode::BadVersion}) {
        World w;
        w.io.answers = {kPassword};
        w.fake.mode = mode;
        assert_int_equal(w.auth(), PAM_AUTHINFO_UNAVAIL);
        assert_true(w.io.logged("unavailable"));
        World i;
        i.args.ignore_authinfo_unavail = true;
        i.io.answers = {kPassword};
        i.fake.mode = mode;
        assert_int_equal(i.auth(), PAM_IGNORE);
    }
    for (Status s : {Status::Unavailable, Status::Denied, Status::BadVersion}) {
        World w;
        w.io.answers = {kPassword};
        w.fake.status = s;
        assert_int_equal(w.auth(), PAM_AUTHINFO_UNAVAIL);
        World i;
        i.args.ignore_authinfo_unavail = true;
        i.io.answers = {kPassword};
        i.fake.status = s;
        assert_int_equal(i.auth(), PAM_IGNORE);
    }
    World d;
    d.io.answers = {kPassword};
    d.fake.status = Status::Denied;
    d.auth();
    assert_true(d.io.logged("auth_clients"));
    // ignore_unknown_user does not hide an outage, nor the reverse
    World x;
    x.args.ignore_unknown_user = true;
    x.io.answers = {kPassword};
    x.fake.mode = FakeDaemon::Mode::Down;
    assert_int_equal(x.auth(), PAM_AUTHINFO_UNAVAIL);
    World y;
    y.args.ignore_authinfo_unavail = true;
    y.io.answers = {kPassword};
    y.fake.status = Status::NoUser;
    assert_int_equal(y.auth(), PAM_USER_UNKNOWN);
}

void test_auth_throttled_and_unexpected(void**) {
    World w;
    w.io.answers = {kPassword};
    w.fake.status = Status::Throttled;
    assert_int_equal(w.auth(), PAM_MAXTRIES);
    for (Status s : {Status::PermDenied, Status::Inactive, Status::NotFound, Status::Disabled,
                     Status::BadRequest, static_cast<Status>(200)}) {
        World u;
        u.io.answers = {kPassword};
        u.fake.status = s;
        assert_int_equal(u.auth(), PAM_SERVICE_ERR);
    }
}

// A lockout is told with the time it has left; a busy daemon differently;
// nothing under PAM_SILENT.
void test_auth_throttled_messages(void**) {
    struct Case {
        std::optional<uint32_t> left;
        const char* says;
    };
    for (const Case& k : {Case{240, "try again in 4 minutes."}, Case{30, "try again in 30 seconds."},
                          Case{0xFFFFFFFFu, "until an administrator resets it"},
                          Case{0, "busy"}, Case{std::nullopt, "try again later"}}) {
        World w;
        w.io.answers = {kPassword};
        w.fake.status = Status::Throttled;
        w.fake.locked_for = k.left;
        assert_int_equal(w.auth(), PAM_MAXTRIES);
        assert_int_equal(w.io.messages.size(), 1);
        assert_int_equal(w.io.messages[0].first, PAM_ERROR_MSG);
        assert_non_null(strstr(w.io.messages[0].second.c_str(), k.says));
        const bool lock = k.left && *k.left != 0;
        assert_true((w.io.messages[0].second.find("locked") != std::string::npos) == lock);
        World s;
        s.io.answers = {kPassword};
        s.fake.status = Status::Throttled;
        s.fake.locked_for = k.left;
        assert_int_equal(s.auth(PAM_SILENT), PAM_MAXTRIES);
        assert_true(s.io.messages.empty());
    }
    // The password phase says the same.
    World c;
    c.io.answers = {"old-password"};
    c.fake.status = Status::Throttled;
    c.fake.text = "too many failed attempts";
    c.fake.locked_for = 3600;
    assert_int_equal(c.chauthtok(PAM_PRELIM_CHECK), PAM_MAXTRIES);
    assert_int_equal(c.io.messages.size(), 1);
    assert_non_null(strstr(c.io.messages[0].second.c_str(), "try again in 1 hour."));
}

void test_auth_empty_password(void**) {
    World w;   // default: refused locally
    w.io.answers = {""};
    assert_int_equal(w.auth(), PAM_AUTH_ERR);
    assert_int_equal(w.fake.calls, 0);
    World d;   // nullok, but the application disallows it
    d.args.nullok = true;
    d.io.answers = {""};
    assert_int_equal(d.auth(PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK), PAM_AUTH_ERR);
    assert_int_equal(d.fake.calls, 0);
    World n;   // nullok: Django decides
    n.args.nullok = true;
    n.io.answers = {""};
    assert_int_equal(n.auth(), PAM_SUCCESS);
    assert_int_equal(n.fake.calls, 2);
    assert_string_equal(n.fake.seen.front().password.c_str(), "");
}

void test_auth_bad_names(void**) {
    std::string overlong(151, 'a');
    std::string ok150(150, 'a');
    std::string utf150;
    for (int i = 0; i < 150; ++i) utf150 += "\xc3\xa9";   // 150 characters, 300 bytes
    for (const std::string& name : {std::string(""), std::string("+alice"),
                                    std::string("-alice"), overlong,
                                    std::string("al\nice"), std::string("a\x7f")}) {
        World w;
        w.io.user = name;
        w.io.answers = {kPassword};
        assert_int_equal(w.auth(), PAM_USER_UNKNOWN);
        assert_int_equal(w.fake.calls, 0);
        assert_int_equal(w.io.prompts, 0);
        World i;
        i.args.ignore_unknown_user = true;
        i.io.user = name;
        assert_int_equal(i.auth(), PAM_IGNORE);
    }
    for (const std::string& name : {ok150, utf150, std::string("a+b"), std::string("x-"),
                                    std::string("j.doe@example.com"), std::string("Zoë")}) {
        World w;
        w.io.user = name;
        w.io.answers = {kPassword};
        assert_int_equal(w.auth(), PAM_SUCCESS);
        assert_string_equal(w.last().user.c_str(), name.c_str());
    }
}

void test_auth_pam_failures(void**) {
    World w;
    w.io.user_rc = PAM_CONV_ERR;
    assert_int_equal(w.auth(), PAM_CONV_ERR);
    World a;
    a.io.user_rc = PAM_CONV_AGAIN;
    assert_int_equal(a.auth(), PAM_INCOMPLETE);
    World c;
    c.io.conv_rc = PAM_CONV_ERR;
    assert_int_equal(c.auth(), PAM_CONV_ERR);
    assert_int_equal(c.fake.calls, 0);
    World t;   // a password beyond the protocol's string limit
    t.io.answers = {std::string(dj::proto::kMaxString + 1, 'x')};
    assert_int_equal(t.auth(), PAM_AUTH_ERR);
    assert_int_equal(t.fake.calls, 0);
}

void test_auth_first_pass(void**) {
    World u;   // use_first_pass, nothing stacked before: no prompt, failure
    u.args.use_first_pass = true;
    u.io.answers = {kPassword};
    assert_int_equal(u.auth(), PAM_AUTH_ERR);
    assert_int_equal(u.io.prompts, 0);
    assert_int_equal(u.fake.calls, 0);
    World s;   // use_first_pass with a password from an earlier module
    s.args.use_first_pass = true;
    s.io.authtok = kPassword;
    assert_int_equal(s.auth(), PAM_SUCCESS);
    assert_int_equal(s.io.prompts, 0);
    assert_string_equal(s.fake.seen.front().password.c_str(), kPassword);
    World t;   // try_first_pass: reuse when there is one
    t.args.try_first_pass = true;
    t.io.authtok = kPassword;
    assert_int_equal(t.auth(), PAM_SUCCESS);
    assert_int_equal(t.io.prompts, 0);
    World p;   // try_first_pass: prompt when there is none
    p.args.try_first_pass = true;
    p.io.answers = {kPassword};
    assert_int_equal(p.auth(), PAM_SUCCESS);
    assert_int_equal(p.io.prompts, 1);
}

void test_auth_delay(void**) {
    World n;
    n.args.fail_delay_ms = 0;
    n.io.answers = {kPassword};
    n.fake.status = Status::WrongPassword;
    assert_int_equal(n.auth(), PAM_AUTH_ERR);
    assert_int_equal(n.io.delays, 0);
    World d;
    d.args.fail_delay_ms = 500;
    d.io.answers = {kPassword};
    d.auth();
    assert_int_equal(d.io.delay_usec, 500000);
}

void test_auth_debug(void**) {
    World w;
    w.args.debug = true;
    w.io.answers = {kPassword};
    assert_int_equal(w.auth(), PAM_SUCCESS);
    bool debug_line = false;
    for (const auto& l : w.io.logs) debug_line |= l.first == LOG_DEBUG;
    assert_true(debug_line);
    assert_no_secret_logged(w, kPassword);
    World q;
    q.io.answers = {kPassword};
    q.auth();
    for (const auto& l : q.io.logs) assert_int_not_equal(l.first, LOG_DEBUG);
}

void test_auth_log_injection(void**) {
    World w;
    w.io.rhost = "evil\nFAKE LINE";
    w.io.answers = {kPassword};
    w.fake.status = Status::WrongPassword;
    w.auth();
    for (const auto& l : w.io.logs) assert_true(l.second.find('\n') == std::string::npos);
}

// --- account -----------------------------------------------------------------------

void test_account_request(void**) {
    World w;
    w.args.require_groups = {"sftp", "admins"};
    w.args.require_permissions = {"auth.change_user", "blog.add_post"};
    w.args.require_staff = true;
    w.args.require_superuser = true;
    assert_int_equal(w.acct(), PAM_SUCCESS);
    const Request& r = w.last();
    assert_int_equal(static_cast<int>(r.op), static_cast<int>(Op::Account));
    assert_string_equal(r.user.c_str(), "alice");
    assert_int_equal(r.groups.size(), 2);
    assert_string_equal(r.groups[1].c_str(), "admins");
    assert_int_equal(r.flags, dj::proto::kRequireStaff | dj::proto::kRequireSuperuser);
    assert_int_equal(r.permissions.size(), 2);
    assert_string_equal(r.permissions[0].c_str(), "auth.change_user");
    assert_int_equal(w.io.prompts, 0);
    assert_int_equal(w.io.delays, 0);
    World p;
    p.args.require_staff = true;
    p.acct();
    assert_int_equal(p.last().flags, dj::proto::kRequireStaff);
    World n;
    n.acct();
    assert_int_equal(n.last().flags, 0);
    assert_true(n.last().groups.empty());
}

void test_account_codes(void**) {
    struct Case { Status s; int rc; int ignored_rc; };
    for (Case k : {Case{Status::Ok, PAM_SUCCESS, PAM_SUCCESS},
                   Case{Status::Inactive, PAM_ACCT_EXPIRED, PAM_ACCT_EXPIRED},
                   Case{Status::NoUser, PAM_USER_UNKNOWN, PAM_IGNORE},
                   Case{Status::PermDenied, PAM_PERM_DENIED, PAM_PERM_DENIED},
                   Case{Status::Unavailable, PAM_AUTHINFO_UNAVAIL, PAM_IGNORE},
                   Case{Status::Denied, PAM_AUTHINFO_UNAVAIL, PAM_IGNORE},
                   Case{Status::WrongPassword, PAM_SERVICE_ERR, PAM_SERVICE_ERR},
                   Case{Status::Throttled, PAM_SERVICE_ERR, PAM_SERVICE_ERR}}) {
        World w;
        w.fake.status = k.s;
        w.fake.text = "not in group sftp";
        assert_int_equal(w.acct(), k.rc);
        assert_true(w.io.messages.empty());
        World i;
        i.args.ignore_unknown_user = i.args.ignore_authinfo_unavail = true;
        i.fake.status = k.s;
        assert_int_equal(i.acct(PAM_SILENT), k.ignored_rc);
    }
    World d;
    d.fake.status = Status::PermDenied;
    d.fake.text = "not in group sftp";
    d.acct();
    assert_true(d.io.logged("account denied; not in group sftp; user=alice"));
    World e;   // a PermDenied without a reason
    e.fake.status = Status::PermDenied;
    e.fake.send_text = false;
    assert_int_equal(e.acct(), PAM_PERM_DENIED);
    World f;
    f.fake.mode = FakeDaemon::Mode::Down;
    assert_int_equal(f.acct(), PAM_AUTHINFO_UNAVAIL);
    World g;
    g.io.user = "+nis";
    assert_int_equal(g.acct(), PAM_USER_UNKNOWN);
    assert_int_equal(g.fake.calls, 0);
}

void test_account_too_long_requirement(void**) {
    World w;
    w.args.require_groups = {std::string(dj::proto::kMaxString + 1, 'g')};
    assert_int_equal(w.acct(), PAM_SERVICE_ERR);
    assert_int_equal(w.fake.calls, 0);
}

// --- password -----------------------------------------------------------------------

void test_chauthtok_prelim(void**) {
    World w;
    w.io.answers = {"old-password"};
    assert_int_equal(w.chauthtok(PAM_PRELIM_CHECK), PAM_SUCCESS);
    const Request& r = w.last();
    assert_int_equal(static_cast<int>(r.op), static_cast<int>(Op::ChangePassword));
    assert_string_equal(r.user.c_str(), "alice");
    assert_string_equal(r.old_password.c_str(), "old-password");
    assert_string_equal(r.new_password.c_str(), "");
    assert_int_equal(r.flags, dj::proto::kCheckOnly);
    assert_string_equal(w.io.oldauthtok->c_str(), "old-password");
    assert_string_equal(w.io.prompt_texts[0].c_str(), "Current password: ");
    assert_no_secret_logged(w, "old-password");

    struct Case { Status s; int rc; };
    for (Case k : {Case{Status::WrongPassword, PAM_AUTH_ERR},
                   Case{Status::NoUser, PAM_USER_UNKNOWN},
                   Case{Status::Disabled, PAM_PERM_DENIED},
                   Case{Status::Unavailable, PAM_AUTHINFO_UNAVAIL},
                   Case{Status::Denied, PAM_AUTHINFO_UNAVAIL},
                   Case{Status::Throttled, PAM_MAXTRIES},
                   Case{Status::PermDenied, PAM_SERVICE_ERR}}) {
        World v;
        v.io.answers = {"old-password"};
        v.fake.status = k.s;
        assert_int_equal(v.chauthtok(PAM_PRELIM_CHECK), k.rc);
    }
    World i;
    i.args.ignore_unknown_user = true;
    i.io.answers = {"old-password"};
    i.fake.status = Status::NoUser;
    assert_int_equal(i.chauthtok(PAM_PRELIM_CHECK), PAM_IGNORE);
    World u;
    u.args.ignore_authinfo_unavail = true;
    u.io.answers = {"old-password"};
    u.fake.mode = FakeDaemon::Mode::Down;
    assert_int_equal(u.chauthtok(PAM_PRELIM_CHECK), PAM_IGNORE);
    World f;   // use_first_pass and no current password stacked before
    f.args.use_first_pass = true;
    assert_int_equal(f.chauthtok(PAM_PRELIM_CHECK), PAM_AUTH_ERR);
    assert_int_equal(f.io.prompts, 0);
}

void test_chauthtok_disabled_message(void**) {
    World w;
    w.io.answers = {"old-password"};
    w.fake.status = Status::Disabled;
    w.fake.text = "change it at https://example.com/password/";
    assert_int_equal(w.chauthtok(PAM_PRELIM_CHECK), PAM_PERM_DENIED);
    assert_int_equal(w.io.messages.size(), 1);
    assert_int_equal(w.io.messages[0].first, PAM_ERROR_MSG);
    assert_true(w.io.messages[0].second.find("disabled") != std::string::npos);
    assert_true(w.io.messages[0].second.find("https://example.com/password/") !=
                std::string::npos);
    World s;
    s.io.answers = {"old-password"};
    s.fake.status = Status::Disabled;
    assert_int_equal(s.chauthtok(PAM_PRELIM_CHECK | PAM_SILENT), PAM_PERM_DENIED);
    assert_true(s.io.messages.empty());
}

void test_chauthtok_update(void**) {
    World w;
    w.io.oldauthtok = "old-password";
    w.io.answers = {"new-password-1", "new-password-1"};
    assert_int_equal(w.chauthtok(PAM_UPDATE_AUTHTOK), PAM_SUCCESS);
    assert_int_equal(w.io.prompts, 2);
    const Request& r = w.last();
    assert_string_equal(r.old_password.c_str(), "old-password");
    assert_string_equal(r.new_password.c_str(), "new-password-1");
    assert_int_equal(r.flags, 0);
    assert_true(w.io.logged("password changed; user=alice"));
    assert_no_secret_logged(w, "old-password");
    assert_no_secret_logged(w, "new-password-1");

    World m;   // mistyped confirmation
    m.io.oldauthtok = "old-password";
    m.io.answers = {"new-password-1", "new-password-2"};
    assert_int_equal(m.chauthtok(PAM_UPDATE_AUTHTOK), PAM_TRY_AGAIN);
    assert_int_equal(m.fake.calls, 0);

    World s;   // too short: 7 characters in 14 bytes
    s.io.oldauthtok = "old-password";
    s.io.answers = {"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"};
    assert_int_equal(s.chauthtok(PAM_UPDATE_AUTHTOK), PAM_AUTHTOK_ERR);
    assert_int_equal(s.fake.calls, 0);
    assert_int_equal(s.io.clears, 1);
    assert_int_equal(s.io.messages.size(), 1);
    assert_true(s.io.messages[0].second.find("shorter than 8") != std::string::npos);

    World z;   // minlen=0 lets a short one through
    z.args.minlen = 0;
    z.io.oldauthtok = "old-password";
    z.io.answers = {"abc", "abc"};
    assert_int_equal(z.chauthtok(PAM_UPDATE_AUTHTOK), PAM_SUCCESS);
    World l;
    l.args.minlen = 12;
    l.io.oldauthtok = "old-password";
    l.io.answers = {"elevenchars"};
    assert_int_equal(l.chauthtok(PAM_UPDATE_AUTHTOK | PAM_SILENT), PAM_AUTHTOK_ERR);
    assert_true(l.io.messages.empty());

    World p;   // a new password from an earlier module (pam_pwquality): no prompts
    p.args.use_authtok = true;
    p.io.oldauthtok = "old-password";
    p.io.authtok = "new-password-1";
    assert_int_equal(p.chauthtok(PAM_UPDATE_AUTHTOK), PAM_SUCCESS);
    assert_int_equal(p.io.prompts, 0);
    World q;   // use_authtok without one
    q.args.use_authtok = true;
    q.io.oldauthtok = "old-password";
    q.io.answers = {"new-password-1", "new-password-1"};
    assert_int_equal(q.chauthtok(PAM_UPDATE_AUTHTOK), PAM_AUTHTOK_ERR);
    assert_int_equal(q.io.prompts, 0);

    struct Case { Status s; int rc; };
    for (Case k : {Case{Status::WrongPassword, PAM_AUTHTOK_ERR},
                   Case{Status::NoUser, PAM_USER_UNKNOWN},
                   Case{Status::Disabled, PAM_PERM_DENIED},
                   Case{Status::Unavailable, PAM_AUTHINFO_UNAVAIL},
                   Case{Status::BadRequest, PAM_AUTHTOK_ERR},
                   Case{Status::Throttled, PAM_MAXTRIES}}) {
        World v;
        v.io.oldauthtok = "old-password";
        v.io.answers = {"new-password-1", "new-password-1"};
        v.fake.status = k.s;
        assert_int_equal(v.chauthtok(PAM_UPDATE_AUTHTOK), k.rc);
    }
    World c;   // conversation fails for the new password
    c.io.oldauthtok = "old-password";
    c.io.conv_rc = PAM_CONV_ERR;
    assert_int_equal(c.chauthtok(PAM_UPDATE_AUTHTOK), PAM_AUTHTOK_ERR);
}

void test_chauthtok_flags(void**) {
    World e;
    assert_int_equal(e.chauthtok(PAM_UPDATE_AUTHTOK | PAM_CHANGE_EXPIRED_AUTHTOK), PAM_IGNORE);
    assert_int_equal(e.chauthtok(PAM_PRELIM_CHECK | PAM_CHANGE_EXPIRED_AUTHTOK), PAM_IGNORE);
    assert_int_equal(e.fake.calls, 0);
    World n;
    assert_int_equal(n.chauthtok(0), PAM_SERVICE_ERR);
    assert_int_equal(n.chauthtok(PAM_PRELIM_CHECK | PAM_UPDATE_AUTHTOK), PAM_SERVICE_ERR);
    World b;
    b.io.user = "-x";
    assert_int_equal(b.chauthtok(PAM_PRELIM_CHECK), PAM_USER_UNKNOWN);
}

void test_helpers(void**) {
    assert_int_equal(dj::names::utf8_length(""), 0);
    assert_int_equal(dj::names::utf8_length("abc"), 3);
    assert_int_equal(dj::names::utf8_length("Zo\xc3\xab"), 3);
    assert_int_equal(dj::names::utf8_length("\xf0\x9f\x94\x91"), 1);
    assert_string_equal(dj::pam::loggable("a\tb\x1b").c_str(), "a?b?");
    assert_int_equal(dj::pam::loggable(std::string(1000, 'x')).size(), 259);
    assert_false(dj::names::plausible_user(""));
    assert_true(dj::names::plausible_user("a"));
}

// --- whose user: the host's name service decides ---------------------------------

// A name the host resolves to a uid other than the daemon's is not ours, in
// every phase, whatever the daemon would answer; resolved to the Django uid,
// or not at all, it is.
void test_local_account_is_not_ours(void**) {
    using dj::pam::HostUser;
    const int kPrelim = PAM_PRELIM_CHECK;
    for (int phase = 0; phase < 3; ++phase) {
        World w;   // root, a local account; the daemon would say Ok
        w.io.user = "root";
        w.io.host = HostUser::Found;
        w.io.host_uid = 0;
        w.io.answers = {kPassword};
        int rc = phase == 0 ? w.auth() : phase == 1 ? w.acct() : w.chauthtok(kPrelim);
        assert_int_equal(rc, PAM_USER_UNKNOWN);
        for (const auto& r : w.fake.seen) assert_int_equal(static_cast<int>(r.op), static_cast<int>(Op::PwByName));
        assert_true(w.io.logged("resolves this name to uid 0, not to a Django user; user=root"));
        if (phase == 0) assert_int_equal(w.io.prompts, 1);   // asked, like any other user

        World i;   // ignore_unknown_user lets the next module decide
        i.args.ignore_unknown_user = true;
        i.io.user = "root";
        i.io.host = HostUser::Found;
        i.io.answers = {kPassword};
        rc = phase == 0 ? i.auth() : phase == 1 ? i.acct() : i.chauthtok(kPrelim);
        assert_int_equal(rc, PAM_IGNORE);
    }
    World d;   // the daemon serves the name, but with another uid
    d.io.host = HostUser::Found;
    d.io.host_uid = 1000;
    d.fake.served_uid = 200001;
    assert_int_equal(d.acct(), PAM_USER_UNKNOWN);
    World o;   // the host's answer is the Django entry: ours
    o.io.host = HostUser::Found;
    o.io.host_uid = 200001;
    o.fake.served_uid = 200001;
    o.io.answers = {kPassword};
    assert_int_equal(o.auth(), PAM_SUCCESS);
    assert_int_equal(o.fake.calls, 2);
    assert_int_equal(static_cast<int>(o.last().op), static_cast<int>(Op::Authenticate));
    World n;   // no passwd entry at all (a web-only host): ours, no lookup
    n.io.answers = {kPassword};     // before; after success, the stored name's
    assert_int_equal(n.auth(), PAM_SUCCESS);
    assert_int_equal(n.fake.calls, 2);
    assert_int_equal(static_cast<int>(n.fake.seen.front().op), static_cast<int>(Op::Authenticate));
    assert_int_equal(n.io.host_lookups, 1);
    World e;   // the lookup failed: nobody can tell
    e.io.host = HostUser::Error;
    e.io.answers = {kPassword};
    assert_int_equal(e.auth(), PAM_AUTHINFO_UNAVAIL);
    assert_int_equal(e.fake.calls, 0);
    World u;   // the daemon is down: unavailable, not unknown
    u.io.host = HostUser::Found;
    u.io.host_uid = 200001;
    u.fake.mode = FakeDaemon::Mode::Down;
    assert_int_equal(u.acct(), PAM_AUTHINFO_UNAVAIL);
}

// A database that compares names case-insensitively (MySQL) authenticates
// ALICE as alice: PAM_USER becomes the stored name after success, and only then.
void test_auth_adopts_stored_name(void**) {
    World w;   // a web-only host: the name comes from a lookup after success
    w.io.user = "ALICE";
    w.fake.served_uid = 200001;
    w.fake.served_name = "alice";
    w.io.answers = {kPassword};
    assert_int_equal(w.auth(), PAM_SUCCESS);
    assert_string_equal(w.fake.seen.front().user.c_str(), "ALICE");  // asked as typed
    assert_int_equal(w.io.set_users.size(), 1);
    assert_string_equal(w.io.set_users[0].c_str(), "alice");
    World h;   // the host's NSS resolved ALICE to the Django entry: no second lookup
    h.io.user = "ALICE";
    h.io.host = dj::pam::HostUser::Found;
    h.io.host_uid = 200001;
    h.fake.served_uid = 200001;
    h.fake.served_name = "alice";
    h.io.answers = {kPassword};
    assert_int_equal(h.auth(), PAM_SUCCESS);
    assert_int_equal(h.fake.calls, 2);   // PwByName (check_ours), Authenticate
    assert_int_equal(h.io.set_users.size(), 1);
    assert_string_equal(h.io.set_users[0].c_str(), "alice");
    World f;   // a wrong password changes nothing
    f.io.user = "ALICE";
    f.fake.served_uid = 200001;
    f.fake.served_name = "alice";
    f.fake.status = Status::WrongPassword;
    f.io.answers = {kPassword};
    assert_int_equal(f.auth(), PAM_AUTH_ERR);
    assert_true(f.io.set_users.empty());
    assert_int_equal(f.fake.calls, 1);
    World n;   // a name NSS cannot carry (no entry): the typed name stays
    n.io.user = "ALICE";
    n.io.answers = {kPassword};
    assert_int_equal(n.auth(), PAM_SUCCESS);
    assert_true(n.io.set_users.empty());
}

// The service goes to the daemon in every phase: its [access] rule decides.
void test_service_sent(void**) {
    World a;
    assert_int_equal(a.acct(), PAM_SUCCESS);
    assert_string_equal(a.last().service.c_str(), "sshd");
    World c;
    c.io.answers = {kPassword};
    assert_int_equal(c.chauthtok(PAM_PRELIM_CHECK), PAM_SUCCESS);
    assert_string_equal(c.last().service.c_str(), "sshd");
    World d;   // left out by [access]: the daemon's PermDenied
    d.fake.status = Status::PermDenied;
    d.fake.text = "not allowed to log in through this service ([access] sshd = admins)";
    assert_int_equal(d.acct(), PAM_PERM_DENIED);
    assert_true(d.io.logged("[access] sshd = admins"));
}

}  // namespace

// --- one-time codes ---------------------------------------------------------------

Args args_of(std::initializer_list<const char*> list) {
    std::vector<const char*> v(list);
    return dj::pam::parse_args(int(v.size()), v.data());
}

void test_auth_otp_off_sends_no_policy(void**) {
    World w;
    w.io.answers = {kPassword};
    assert_int_equal(w.auth(), PAM_SUCCESS);
    assert_false(w.fake.seen.front().otp.has_value());   // an older daemon understands it
    assert_int_equal(w.io.prompts, 1);
}

// A daemon that wants a code after the password, and answers `code_status` to it.
void code_world(World& w, const char* policy, Status code_status, std::deque<std::string> answers) {
    w.args = args_of({policy});
    w.io.answers = std::move(answers);
    w.fake.status = Status::CodeRequired;
    w.fake.code_status = code_status;
}

void test_auth_otp_code_asked_and_sent(void**) {
    World w;
    code_world(w, "otp=if_enrolled", Status::Ok, {kPassword, "123456"});
    assert_int_equal(w.auth(), PAM_SUCCESS);
    assert_int_equal(w.io.prompts, 2);
    assert_string_equal(w.io.prompt_texts[1].c_str(), "Verification code: ");
    const Request& first = w.fake.seen[0];
    assert_int_equal(*first.otp, dj::proto::kOtpIfEnrolled);
    const Request& second = w.fake.seen[1];
    assert_int_equal(static_cast<int>(second.op), static_cast<int>(Op::AuthenticateWithCode));
    assert_string_equal(second.password.c_str(), kPassword);
    assert_string_equal(second.code.c_str(), "123456");
    assert_string_equal(second.service.c_str(), "sshd");
    assert_no_secret_logged(w, "123456");
    assert_no_secret_logged(w, kPassword);
    assert_true(w.io.messages.empty());

    // a wrong code: the daemon says WrongPassword
    World x;
    code_world(x, "otp=required", Status::WrongPassword, {kPassword, "000000"});
    assert_int_equal(x.auth(), PAM_AUTH_ERR);
    assert_int_equal(*x.fake.seen[0].otp, dj::proto::kOtpRequired);
    // throttled at the code: the lockout message, as for a password
    World t;
    code_world(t, "otp=if_enrolled", Status::Throttled, {kPassword, "000000"});
    t.fake.locked_for = 240;
    assert_int_equal(t.auth(), PAM_MAXTRIES);
    assert_int_equal(t.io.messages.size(), 1);
    // no answer at the code prompt: the conversation's error, no second request
    World n;
    code_world(n, "otp=if_enrolled", Status::Ok, {kPassword});
    assert_int_equal(n.auth(), PAM_CONV_ERR);
    assert_int_equal(n.fake.calls, 1);
}

void test_auth_otp_fails_closed(void**) {
    // an older daemon (BadRequest) or one whose [otp] is off: never the password alone
    for (Status s : {Status::BadRequest, Status::Disabled}) {
        for (auto policy : {dj::pam::OtpPolicy::IfEnrolled, dj::pam::OtpPolicy::Required}) {
            World w;
            w.args.otp = policy;
            w.io.answers = {kPassword};
            w.fake.status = s;
            assert_int_equal(w.auth(), PAM_AUTHINFO_UNAVAIL);
            assert_true(w.io.logged("does not check one-time codes"));
        }
    }
    // required and no device
    World r;
    r.args.otp = dj::pam::OtpPolicy::Required;
    r.io.answers = {kPassword};
    r.fake.status = Status::PermDenied;
    assert_int_equal(r.auth(), PAM_PERM_DENIED);
    // CodeRequired to a module that asked for no code: not a success
    World u;
    u.io.answers = {kPassword};
    u.fake.status = Status::CodeRequired;
    assert_int_equal(u.auth(), PAM_SERVICE_ERR);
    assert_int_equal(u.io.prompts, 1);
}

void test_auth_otp_concat(void**) {
    World w;
    w.args = args_of({"otp=if_enrolled", "otp_concat"});
    w.io.answers = {"s3cret123456"};
    w.fake.status = Status::Ok;
    assert_int_equal(w.auth(), PAM_SUCCESS);
    assert_int_equal(w.io.prompts, 1);
    assert_int_equal(*w.fake.seen[0].otp, dj::proto::kOtpIfEnrolled | dj::proto::kOtpConcat);
}

void test_otp_args(void**) {
    Args a = dj::pam::parse_args(0, nullptr);
    assert_true(a.otp == dj::pam::OtpPolicy::Off);
    assert_false(a.otp_concat);
    a = args_of({"otp=required"});
    assert_true(a.otp == dj::pam::OtpPolicy::Required);
    a = args_of({"otp=required", "otp=off"});
    assert_true(a.otp == dj::pam::OtpPolicy::Off);
    // a typo fails closed
    a = args_of({"otp=requierd"});
    assert_true(a.otp == dj::pam::OtpPolicy::Required);
    assert_int_equal(a.warnings.size(), 1);
    a = args_of({"otp_concat"});
    assert_true(a.otp_concat);
    assert_int_equal(a.warnings.size(), 1);
}

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_success),
        cmocka_unit_test(test_auth_otp_off_sends_no_policy),
        cmocka_unit_test(test_auth_otp_code_asked_and_sent),
        cmocka_unit_test(test_auth_otp_fails_closed),
        cmocka_unit_test(test_auth_otp_concat),
        cmocka_unit_test(test_otp_args),
        cmocka_unit_test(test_auth_adopts_stored_name),
        cmocka_unit_test(test_local_account_is_not_ours),
        cmocka_unit_test(test_service_sent),
        cmocka_unit_test(test_auth_wrong_password),
        cmocka_unit_test(test_auth_unknown_user),
        cmocka_unit_test(test_auth_unavailable),
        cmocka_unit_test(test_auth_throttled_and_unexpected),
        cmocka_unit_test(test_auth_empty_password),
        cmocka_unit_test(test_auth_bad_names),
        cmocka_unit_test(test_auth_pam_failures),
        cmocka_unit_test(test_auth_first_pass),
        cmocka_unit_test(test_auth_delay),
        cmocka_unit_test(test_auth_debug),
        cmocka_unit_test(test_auth_log_injection),
        cmocka_unit_test(test_account_request),
        cmocka_unit_test(test_account_codes),
        cmocka_unit_test(test_account_too_long_requirement),
        cmocka_unit_test(test_chauthtok_prelim),
        cmocka_unit_test(test_chauthtok_disabled_message),
        cmocka_unit_test(test_auth_throttled_messages),
        cmocka_unit_test(test_chauthtok_update),
        cmocka_unit_test(test_chauthtok_flags),
        cmocka_unit_test(test_helpers),
    };
    return cmocka_run_group_tests_name("pam_phases", tests, nullptr, nullptr);
}
