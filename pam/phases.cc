// The phase logic of pam_django.so; the mapping is documented in phases.h.
#include "pam/phases.h"

#include "pam/messages.h"

#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_appl.h>
#include <security/pam_modules.h>

#include <stdexcept>
#include <string>

namespace dj::pam {

using proto::Status;

namespace {

// Holds a password and wipes it when it goes.
class Secret {
public:
    Secret() = default;
    Secret(const Secret&) = delete;
    Secret& operator=(const Secret&) = delete;
    ~Secret() { wipe(); }
    std::string& str() { return s_; }
    void wipe() {
        if (!s_.empty()) explicit_bzero(s_.data(), s_.size());
        s_.clear();
    }

private:
    std::string s_;
};

// Everything one phase needs to log and decide.
struct Ctx {
    Ctx(PamIo& i, DaemonCalls& d, const Args& a, int f) : io(i), daemon(d), args(a), flags(f) {}
    PamIo& io;
    DaemonCalls& daemon;
    const Args& args;
    int flags;
    std::string user;         // as given; log only through who()
    std::string stored_name;  // the daemon's name for it, once a PwByName told
    bool user_known = false;  // the daemon's answer showed the user exists
    std::string rhost;
    std::string service;

    // "user=NAME rhost=HOST service=SVC"; the name of a user the daemon does
    // not know (it may be a mistyped password) only with `audit`.
    std::string who() const {
        std::string s = "user=";
        s += (user_known || args.audit) ? loggable(user) : std::string("(unknown)");
        s += " rhost=" + loggable(rhost);
        s += " service=" + loggable(service);
        return s;
    }
    void debug(const std::string& msg) const {
        if (args.debug) io.log(LOG_DEBUG, msg);
    }
    bool silent() const { return (flags & PAM_SILENT) != 0; }
};

int conv_code(int rc) { return rc == PAM_CONV_AGAIN ? PAM_INCOMPLETE : rc; }

int user_unknown(Ctx& c, const char* phase, const char* why) {
    c.user_known = false;
    c.io.log(LOG_NOTICE, std::string(phase) + " failure; " + why + "; " + c.who());
    return c.args.ignore_unknown_user ? PAM_IGNORE : PAM_USER_UNKNOWN;
}

int unavailable(Ctx& c, const char* phase, const Reply& r) {
    std::string why;
    if (!r.reached) why = "daemon unreachable: " + loggable(r.error);
    else if (r.status == Status::Denied)
        why = "daemon refused this caller (uid " + std::to_string(geteuid()) +
              "); allow it with auth_clients in the daemon's configuration";
    else
        why = std::string("daemon says: ") + proto::status_name(r.status);
    c.io.log(LOG_ERR, std::string(phase) + " unavailable; " + why + "; " + c.who());
    return c.args.ignore_authinfo_unavail ? PAM_IGNORE : PAM_AUTHINFO_UNAVAIL;
}

bool is_unavailable(const Reply& r) {
    return !r.reached || r.status == Status::Unavailable || r.status == Status::Denied ||
           r.status == Status::BadVersion;
}

int unexpected(Ctx& c, const char* phase, const Reply& r) {
    c.io.log(LOG_ERR, std::string(phase) + " failed; unexpected daemon answer: " +
                          proto::status_name(r.status) + "; " + c.who());
    return PAM_SERVICE_ERR;
}

// Common start: user name from PAM, rhost and service for the log.
int begin(Ctx& c, const char* phase) {
    c.rhost = c.io.item(PAM_RHOST);
    c.service = c.io.item(PAM_SERVICE);
    int rc = c.io.get_user(c.user);
    if (rc != PAM_SUCCESS) {
        c.io.log(LOG_NOTICE, std::string(phase) + ": cannot get the user name: " +
                                 pam_strerror(nullptr, rc));
        return conv_code(rc);
    }
    if (!names::plausible_user(c.user)) return user_unknown(c, phase, "invalid user name");
    // c.user_known stays false until the daemon's answer shows the user exists
    return PAM_SUCCESS;
}

// The host decides who `c.user` is: a name its name service resolves to
// the Django entry (uid_base + id, as the daemon serves it), or to nothing at
// all, is ours; a name it resolves to any other uid (local files, LDAP,
// anything) is not, whatever the PAM stack around this module.
int check_ours(Ctx& c, const char* phase) {
    uint32_t host_uid = 0;
    switch (c.io.host_user(c.user, host_uid)) {
        case HostUser::None:
            return PAM_SUCCESS;
        case HostUser::Error:
            c.io.log(LOG_ERR, std::string(phase) + " unavailable; the host's user lookup failed; " +
                                  c.who());
            return c.args.ignore_authinfo_unavail ? PAM_IGNORE : PAM_AUTHINFO_UNAVAIL;
        case HostUser::Found:
            break;
    }
    uint32_t django_uid = 0;
    Reply r = c.daemon.passwd_uid(c.user, django_uid, &c.stored_name);
    if (is_unavailable(r)) return unavailable(c, phase, r);
    if (r.status == Status::Ok && django_uid == host_uid) return PAM_SUCCESS;
    if (r.status != Status::Ok && r.status != Status::NotFound) return unexpected(c, phase, r);
    // A name the host already knows: not a mistyped password, so it is logged.
    c.user_known = true;
    c.io.log(LOG_NOTICE, std::string(phase) + " failure; the host resolves this name to uid " +
                             std::to_string(host_uid) + ", not to a Django user; " + c.who());
    return c.args.ignore_unknown_user ? PAM_IGNORE : PAM_USER_UNKNOWN;
}

// After a successful authentication: PAM_USER becomes the name the user is
// stored under when the database found it under another spelling (MySQL's
// collations compare case- and trailing-space-insensitively), as pam_sss does
// for case-insensitive domains, so the rest of the stack (account, session,
// the application) sees one name per user. A name NSS cannot carry keeps
// its spelling.
void adopt_stored_name(Ctx& c) {
    if (c.stored_name.empty()) {
        uint32_t uid = 0;
        Reply r = c.daemon.passwd_uid(c.user, uid, &c.stored_name);
        if (!r.reached || r.status != Status::Ok) return;
    }
    if (c.stored_name.empty() || c.stored_name == c.user) return;
    if (c.io.set_user(c.stored_name) != PAM_SUCCESS) {
        c.io.log(LOG_ERR, "cannot set PAM_USER to the stored name; " + c.who());
        return;
    }
    c.debug("PAM_USER set to the stored name " + loggable(c.stored_name) + "; " + c.who());
    c.user = c.stored_name;
}

void show_error(Ctx& c, const std::string& msg) {
    if (!c.silent()) c.io.message(PAM_ERROR_MSG, msg);
}

// A lockout (and how long it has left) or a busy daemon: logged, and told.
void throttled(Ctx& c, const char* phase, const Reply& r) {
    std::string why = "too many failures";
    if (r.locked_for == kBusy) why = "the daemon is busy";
    else if (r.locked_for == kUntilReset) why = "locked out until reset";
    else if (r.locked_for) why = "locked out for " + std::to_string(*r.locked_for) + "s";
    c.io.log(LOG_WARNING, std::string(phase) + " refused; " + why + "; " + c.who());
    show_error(c, throttled_message(r.locked_for));
}

// Authenticate's one-time code policy (common/protocol.h, OtpFlags).
uint32_t otp_flags(const Args& args) {
    if (args.otp == OtpPolicy::Off) return 0;
    return (args.otp == OtpPolicy::Required ? proto::kOtpRequired : proto::kOtpIfEnrolled) |
           (args.otp_concat ? uint32_t(proto::kOtpConcat) : 0u);
}

// The password was right and the user has a device: ask for the code and
// send both again (AuthenticateWithCode); `r` becomes that answer. A code is
// never checked without its password, so the daemon stays stateless.
int ask_code(Ctx& c, Secret& pw, Reply& r) {
    Secret code;
    if (int rc = c.io.ask_secret("Verification code: ", code.str()); rc != PAM_SUCCESS) {
        c.io.log(LOG_NOTICE, std::string("authentication failure; cannot get the verification code: ") +
                                 pam_strerror(nullptr, rc) + "; " + c.who());
        return conv_code(rc);
    }
    if (code.str().size() > proto::kMaxString) {
        c.io.log(LOG_NOTICE, "authentication failure; verification code too long; " + c.who());
        return PAM_AUTH_ERR;
    }
    c.debug("asking the daemon to check the password and the verification code; " + c.who());
    r = c.daemon.authenticate_with_code(c.user, pw.str(), code.str(), c.service, c.rhost);
    return PAM_SUCCESS;
}

}  // namespace

int authenticate(PamIo& io, DaemonCalls& daemon, const Args& args, int flags) {
    Ctx c{io, daemon, args, flags};
    if (args.fail_delay_ms > 0) io.fail_delay(args.fail_delay_ms * 1000u);
    if (int rc = begin(c, "authentication"); rc != PAM_SUCCESS) return rc;

    Secret pw;
    if (args.use_first_pass && !io.token_preset(Token::Current)) {
        io.log(LOG_NOTICE, "authentication failure; use_first_pass but no password "
                           "from an earlier module; " + c.who());
        return PAM_AUTH_ERR;
    }
    if (int rc = io.get_token(Token::Current, nullptr, pw.str()); rc != PAM_SUCCESS) {
        io.log(LOG_NOTICE, std::string("authentication failure; cannot get the password: ") +
                               pam_strerror(nullptr, rc) + "; " + c.who());
        return conv_code(rc);
    }
    if (pw.str().empty() && (!args.nullok || (flags & PAM_DISALLOW_NULL_AUTHTOK))) {
        io.log(LOG_NOTICE, "authentication failure; empty password; " + c.who());
        return PAM_AUTH_ERR;
    }
    if (pw.str().size() > proto::kMaxString) {
        io.log(LOG_NOTICE, "authentication failure; password too long; " + c.who());
        return PAM_AUTH_ERR;
    }
    // After the prompt, as for any other user: the prompt does not tell
    // which names are local.
    if (int rc = check_ours(c, "authentication"); rc != PAM_SUCCESS) return rc;

    c.debug("asking the daemon to authenticate; " + c.who());
    const uint32_t otp = otp_flags(args);
    Reply r = daemon.authenticate(c.user, pw.str(), c.service, c.rhost, otp);
    if (otp != 0 && r.reached && r.status == Status::CodeRequired) {
        if (int rc = ask_code(c, pw, r); rc != PAM_SUCCESS) return rc;
    }
    pw.wipe();
    if (otp != 0 && r.reached && (r.status == Status::BadRequest || r.status == Status::Disabled)) {
        // Fail closed: nobody can tell whether this user needs a code.
        io.log(LOG_ERR, std::string("authentication unavailable; the daemon does not check one-time codes (") +
                            (r.status == Status::Disabled ? "its [otp] is off" : "it is older than this module") +
                            "), and this service asks for them (otp=); " + c.who());
        return args.ignore_authinfo_unavail ? PAM_IGNORE : PAM_AUTHINFO_UNAVAIL;
    }
    if (is_unavailable(r)) return unavailable(c, "authentication", r);
    c.user_known = r.status == Status::Ok || r.status == Status::WrongPassword ||
                   (otp != 0 && r.status == Status::PermDenied);
    switch (r.status) {
        case Status::Ok:
            io.log(LOG_INFO, "authentication success; " + c.who());
            adopt_stored_name(c);
            return PAM_SUCCESS;
        case Status::WrongPassword:
            io.log(LOG_NOTICE, "authentication failure; " + c.who());
            return PAM_AUTH_ERR;
        case Status::NoUser:
            return user_unknown(c, "authentication", "unknown or inactive user");
        case Status::Throttled:
            throttled(c, "authentication", r);
            return PAM_MAXTRIES;
        case Status::PermDenied:
            if (otp == 0) return unexpected(c, "authentication", r);
            io.log(LOG_NOTICE, "authentication failure; otp=required and the user has no confirmed "
                               "one-time code device; " + c.who());
            return PAM_PERM_DENIED;
        default:
            return unexpected(c, "authentication", r);
    }
}

int acct_mgmt(PamIo& io, DaemonCalls& daemon, const Args& args, int flags) {
    Ctx c{io, daemon, args, flags};
    if (int rc = begin(c, "account"); rc != PAM_SUCCESS) return rc;
    if (int rc = check_ours(c, "account"); rc != PAM_SUCCESS) return rc;

    uint32_t aflags = 0;
    if (args.require_staff) aflags |= proto::kRequireStaff;
    if (args.require_superuser) aflags |= proto::kRequireSuperuser;
    c.debug("asking the daemon for the account; " + c.who());
    Reply r;
    try {
        r = daemon.account(c.user, args.require_groups, aflags, args.require_permissions,
                           c.service);
    } catch (const std::length_error&) {
        io.log(LOG_ERR, "account: a require_group or require_permission is too long");
        return PAM_SERVICE_ERR;
    }
    if (is_unavailable(r)) return unavailable(c, "account", r);
    c.user_known = r.status == Status::Ok || r.status == Status::Inactive ||
                   r.status == Status::PermDenied;
    switch (r.status) {
        case Status::Ok:
            c.debug("account ok; " + c.who());
            return PAM_SUCCESS;
        case Status::Inactive:
            io.log(LOG_NOTICE, "account inactive; " + c.who());
            return PAM_ACCT_EXPIRED;
        case Status::NoUser:
            return user_unknown(c, "account", "unknown user");
        case Status::PermDenied:
            io.log(LOG_NOTICE, "account denied; " +
                                   (r.text.empty() ? std::string("requirement not met")
                                                   : loggable(r.text)) +
                                   "; " + c.who());
            return PAM_PERM_DENIED;
        default:
            return unexpected(c, "account", r);
    }
}

namespace {

// Maps a ChangePassword answer; `wrong` is the code for WrongPassword.
int change_result(Ctx& c, const char* phase, const Reply& r, int wrong) {
    if (is_unavailable(r)) return unavailable(c, phase, r);
    c.user_known = r.status == Status::Ok || r.status == Status::WrongPassword;
    switch (r.status) {
        case Status::Ok:
            return PAM_SUCCESS;
        case Status::WrongPassword:
            c.io.log(LOG_NOTICE, std::string(phase) + " failure; wrong current password; " +
                                     c.who());
            show_error(c, "Current password is wrong.");
            return wrong;
        case Status::NoUser:
            return user_unknown(c, phase, "unknown or inactive user");
        case Status::Disabled: {
            c.io.log(LOG_NOTICE, std::string(phase) + " refused; password changes are "
                                                     "disabled in the daemon; " + c.who());
            std::string msg = "Password changes are disabled for these accounts.";
            if (!r.text.empty()) msg += " " + loggable(r.text);
            show_error(c, msg);
            return PAM_PERM_DENIED;
        }
        case Status::Throttled:
            throttled(c, phase, r);
            return PAM_MAXTRIES;
        case Status::BadRequest:
            // e.g. the daemon's own password rules
            c.io.log(LOG_NOTICE, std::string(phase) + " refused by the daemon: " +
                                     loggable(r.text) + "; " + c.who());
            if (!r.text.empty()) show_error(c, loggable(r.text));
            return PAM_AUTHTOK_ERR;
        default:
            return unexpected(c, phase, r);
    }
}

}  // namespace

int chauthtok(PamIo& io, DaemonCalls& daemon, const Args& args, int flags) {
    Ctx c{io, daemon, args, flags};
    if (flags & PAM_CHANGE_EXPIRED_AUTHTOK) {
        c.debug("password: only expired passwords to change; Django's never expire");
        return PAM_IGNORE;
    }
    const bool prelim = (flags & PAM_PRELIM_CHECK) != 0;
    const bool update = (flags & PAM_UPDATE_AUTHTOK) != 0;
    if (prelim == update) {
        io.log(LOG_ERR, "password: called without PAM_PRELIM_CHECK or PAM_UPDATE_AUTHTOK");
        return PAM_SERVICE_ERR;
    }
    const char* phase = prelim ? "password check" : "password change";
    if (int rc = begin(c, phase); rc != PAM_SUCCESS) return rc;
    if (int rc = check_ours(c, phase); rc != PAM_SUCCESS) return rc;

    // The current password: asked in the preliminary check, kept by libpam
    // as PAM_OLDAUTHTOK for the update.
    Secret old;
    if (args.use_first_pass && !io.token_preset(Token::Old)) {
        io.log(LOG_NOTICE, std::string(phase) + " failure; use_first_pass but no current "
                                                "password from an earlier module; " + c.who());
        return prelim ? PAM_AUTH_ERR : PAM_AUTHTOK_RECOVERY_ERR;
    }
    if (int rc = io.get_token(Token::Old, "Current password: ", old.str()); rc != PAM_SUCCESS) {
        io.log(LOG_NOTICE, std::string(phase) + " failure; cannot get the current password: " +
                               pam_strerror(nullptr, rc) + "; " + c.who());
        return prelim ? conv_code(rc) : PAM_AUTHTOK_RECOVERY_ERR;
    }
    if (old.str().size() > proto::kMaxString) {
        io.log(LOG_NOTICE, std::string(phase) + " failure; password too long; " + c.who());
        return prelim ? PAM_AUTH_ERR : PAM_AUTHTOK_RECOVERY_ERR;
    }

    if (prelim) {
        c.debug("checking the current password; " + c.who());
        Reply r = daemon.change_password(c.user, old.str(), "", proto::kCheckOnly, c.service);
        return change_result(c, phase, r, PAM_AUTH_ERR);
    }

    // The new password: from a module stacked before (use_authtok, or any
    // module that already set PAM_AUTHTOK), else asked twice.
    Secret fresh;
    const bool preset = io.token_preset(Token::NewNoVerify);
    if (args.use_authtok && !preset) {
        io.log(LOG_NOTICE, "password change failure; use_authtok but no new password from "
                           "an earlier module; " + c.who());
        return PAM_AUTHTOK_ERR;
    }
    if (int rc = io.get_token(Token::NewNoVerify, nullptr, fresh.str()); rc != PAM_SUCCESS) {
        io.log(LOG_NOTICE, std::string("password change failure; no new password: ") +
                               pam_strerror(nullptr, rc) + "; " + c.who());
        return conv_code(rc);
    }
    const size_t chars = names::utf8_length(fresh.str());
    if (chars < args.minlen) {
        io.log(LOG_NOTICE, "password change failure; new password shorter than minlen; " +
                               c.who());
        show_error(c, "BAD PASSWORD: it is shorter than " + std::to_string(args.minlen) +
                          " characters");
        io.clear_authtok();
        return PAM_AUTHTOK_ERR;
    }
    if (fresh.str().size() > proto::kMaxString) {
        io.log(LOG_NOTICE, "password change failure; new password too long; " + c.who());
        show_error(c, "BAD PASSWORD: it is too long");
        io.clear_authtok();
        return PAM_AUTHTOK_ERR;
    }
    if (!preset) {
        if (int rc = io.get_token(Token::NewVerify, nullptr, fresh.str()); rc != PAM_SUCCESS) {
            io.log(LOG_NOTICE, std::string("password change failure; new password not "
                                           "confirmed: ") + pam_strerror(nullptr, rc) +
                                   "; " + c.who());
            return conv_code(rc);
        }
    }

    c.debug("storing the new password; " + c.who());
    Reply r = daemon.change_password(c.user, old.str(), fresh.str(), 0, c.service);
    fresh.wipe();
    int rc = change_result(c, phase, r, PAM_AUTHTOK_ERR);
    if (rc == PAM_SUCCESS) io.log(LOG_NOTICE, "password changed; " + c.who());
    return rc;
}

}  // namespace dj::pam
