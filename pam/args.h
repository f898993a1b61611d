// Module arguments of pam_django.so: the parsed form and the parser.
//
// Parsing follows pam_faillock's args_parse and nslcd's pam_ldap: start from
// the defaults, then apply argv in order (a later argument wins); an unknown
// argument or a bad value is reported in `warnings` and otherwise ignored, so
// a typo in a service file never locks anyone out by itself. The parser is
// pure (no PAM, no I/O) so the unit tests can drive it directly.
//
//   socket=PATH             daemon socket (absolute path); default: the
//                           client's default (DJANGO_AUTH_SOCKET, else
//                           /run/django-auth/socket)
//   timeout=SECONDS         bound on one daemon round trip (0.1 .. 300,
//                           decimals allowed); default 2
//   debug                   log each step at LOG_DEBUG
//   audit                   also log the names of unknown users (a name typed
//                           at a login prompt is sometimes a password)
//   use_first_pass          never prompt; use the password of a module
//                           stacked before (PAM_AUTHTOK), fail without one
//   try_first_pass          use PAM_AUTHTOK when set, else prompt (this is
//                           what pam_get_authtok does anyway; accepted for
//                           compatibility)
//   use_authtok             password phase: take the new password from a
//                           module stacked before (e.g. pam_pwquality)
//   ignore_unknown_user     PAM_IGNORE instead of PAM_USER_UNKNOWN
//   ignore_authinfo_unavail PAM_IGNORE instead of PAM_AUTHINFO_UNAVAIL
//   require_group=G1,G2     account: member of any of these Django groups
//                           (repeatable: the lists add up)
//   require_staff           account: is_staff
//   require_superuser       account: is_superuser
//   require_permission=app_label.codename
//                           account: has_perm (repeatable; all required)
//   nullok                  send an empty password to the daemon (Django
//                           accepts a password set to ""); still refused
//                           when the application passes
//                           PAM_DISALLOW_NULL_AUTHTOK. Default: refused.
//   minlen=N                password phase: shortest new password, in
//                           characters (0 .. 4096); default 8, Django's
//                           MinimumLengthValidator default
//   nodelay                 no fail delay after a failed authentication
//   fail_delay=MSEC         fail delay to request (0 .. 60000); default 2000,
//                           like pam_unix
//   authtok_type=TYPE       read by libpam's pam_get_authtok for the
//                           "New TYPE password:" prompt; accepted here
//   otp=off|if_enrolled|required
//                           auth: a one-time code (django-otp TOTP) after
//                           the password: from users with a confirmed
//                           device (if_enrolled), or from everyone (required:
//                           no device, no login). Default off. A bad value
//                           counts as required (fail closed).
//   otp_concat              auth, with otp=: no second prompt; the code is
//                           the end of the password ("password123456"), for
//                           applications that ask once (HTTP Basic)
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dj::pam {

enum class OtpPolicy { Off, IfEnrolled, Required };

struct Args {
    std::string socket;             // empty: client default
    int timeout_ms = 2000;
    bool debug = false;
    bool audit = false;
    bool use_first_pass = false;
    bool try_first_pass = false;
    bool use_authtok = false;
    bool ignore_unknown_user = false;
    bool ignore_authinfo_unavail = false;
    bool nullok = false;
    std::vector<std::string> require_groups;        // any of
    bool require_staff = false;
    bool require_superuser = false;
    std::vector<std::string> require_permissions;   // all of
    unsigned minlen = 8;
    unsigned fail_delay_ms = 2000;                  // 0: no delay
    OtpPolicy otp = OtpPolicy::Off;
    bool otp_concat = false;

    // Problems found while parsing, one line each, for the log.
    std::vector<std::string> warnings;
};

inline constexpr int kMaxTimeoutMs = 300 * 1000;
inline constexpr int kMinTimeoutMs = 100;
inline constexpr unsigned kMaxMinlen = 4096;
inline constexpr unsigned kMaxFailDelayMs = 60 * 1000;

// Parses the module arguments. Never throws except std::bad_alloc.
Args parse_args(int argc, const char* const* argv);

}  // namespace dj::pam
