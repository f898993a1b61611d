// What pam_django.so does in each PAM phase, written against PamIo (pam_io.h)
// and DaemonCalls (daemon_calls.h) so it runs the same under libpam and in the
// unit tests.
//
// Return values (the daemon's status on the left):
//
//   auth       Ok -> PAM_SUCCESS; WrongPassword -> PAM_AUTH_ERR;
//              NoUser (unknown or inactive, Django's None) -> PAM_USER_UNKNOWN;
//              Throttled -> PAM_MAXTRIES (sshd then ends the connection;
//              others treat it as a failure), and unless PAM_SILENT a
//              PAM_ERROR_MSG: locked and for how long, or busy
//              (messages.h); daemon down, database down,
//              caller refused (Denied), version mismatch -> PAM_AUTHINFO_UNAVAIL;
//              anything unexpected -> PAM_SERVICE_ERR.
//              With otp= (args.h): CodeRequired -> the "Verification code: "
//              prompt (PAM_PROMPT_ECHO_OFF), then AuthenticateWithCode, whose
//              answer maps as above (a wrong code is WrongPassword ->
//              PAM_AUTH_ERR); PermDenied (otp=required, no confirmed device)
//              -> PAM_PERM_DENIED; a daemon that does not check codes
//              (BadRequest from an older one, Disabled when its [otp] is
//              off) -> PAM_AUTHINFO_UNAVAIL: never the password alone.
//              Without asking the daemon: an empty password -> PAM_AUTH_ERR
//              (unless nullok and no PAM_DISALLOW_NULL_AUTHTOK); a user name
//              that cannot exist (empty, leading '+' or '-', control
//              characters, over 150 characters) -> PAM_USER_UNKNOWN.
//   account    Ok -> PAM_SUCCESS; Inactive -> PAM_ACCT_EXPIRED;
//              NoUser -> PAM_USER_UNKNOWN; PermDenied -> PAM_PERM_DENIED;
//              unavailable as above -> PAM_AUTHINFO_UNAVAIL.
//   password   PAM_PRELIM_CHECK verifies the current password (always asked,
//              also for root: the daemon never changes a password it has not
//              seen the old one for): Ok -> PAM_SUCCESS; WrongPassword ->
//              PAM_AUTH_ERR (as pam_unix). PAM_UPDATE_AUTHTOK asks for the new
//              password (twice, unless use_authtok or an earlier module set
//              it), checks minlen (PAM_AUTHTOK_ERR), and stores it:
//              Ok -> PAM_SUCCESS; WrongPassword -> PAM_AUTHTOK_ERR.
//              In both: Disabled -> PAM_PERM_DENIED with a message;
//              NoUser -> PAM_USER_UNKNOWN; Throttled -> PAM_MAXTRIES;
//              BadRequest (the validators refuse) -> PAM_AUTHTOK_ERR with
//              the daemon's message (Django's words). Messages only as
//              PAM_ERROR_MSG, never under PAM_SILENT.
//              With PAM_CHANGE_EXPIRED_AUTHTOK: PAM_IGNORE (Django passwords
//              do not expire, so there is nothing to change).
//   setcred, open_session, close_session: PAM_SUCCESS, nothing else.
//
//   In auth (after the password prompt), account and password, the module
//   first asks the host who the user is (getpwnam_r in the calling process):
//   a name that resolves to the uid the daemon serves for it, or to nothing
//   at all, is a Django user; a name that resolves to any other uid (a local
//   account, LDAP, anything) is PAM_USER_UNKNOWN, logged; a failed lookup is
//   PAM_AUTHINFO_UNAVAIL. The daemon's [access] rule for PAM_SERVICE decides
//   who may log in: a user it leaves out is NoUser to auth (PAM_USER_UNKNOWN)
//   and PermDenied to account (PAM_PERM_DENIED).
//
//   ignore_unknown_user turns PAM_USER_UNKNOWN into PAM_IGNORE and
//   ignore_authinfo_unavail turns PAM_AUTHINFO_UNAVAIL into PAM_IGNORE.
//
// Auth and account send no conversation message (mod_authnz_pam fails on
// anything but an echo-off prompt; the code prompt is one, but
// mod_authnz_pam answers it with the password: use otp_concat there); the
// password phase does, unless PAM_SILENT.
#pragma once

#include <string>
#include <string_view>

#include "common/names.h"
#include "pam/args.h"
#include "pam/daemon_calls.h"
#include "pam/pam_io.h"

namespace dj::pam {

int authenticate(PamIo& io, DaemonCalls& daemon, const Args& args, int flags);
int acct_mgmt(PamIo& io, DaemonCalls& daemon, const Args& args, int flags);
int chauthtok(PamIo& io, DaemonCalls& daemon, const Args& args, int flags);

// `s` made safe for one log line (common/names.h): control characters
// replaced, clipped.
inline std::string loggable(std::string_view s) { return names::printable(s, 256, names::Escape::Mark); }

}  // namespace dj::pam
