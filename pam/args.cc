// Parsing of the module arguments; see args.h for the list.
#include "pam/args.h"

#include "common/names.h"

#include <string>

namespace dj::pam {
namespace {

// True and the value when `arg` is "name=value".
bool value_of(std::string_view arg, std::string_view name, std::string_view& value) {
    if (arg.size() <= name.size() || arg.substr(0, name.size()) != name ||
        arg[name.size()] != '=')
        return false;
    value = arg.substr(name.size() + 1);
    return true;
}

// Unsigned decimal in [lo, hi]; digits only (no sign, no spaces, no hex).
bool parse_uint(std::string_view s, unsigned long lo, unsigned long hi, unsigned long& out) {
    if (s.empty() || s.size() > 9) return false;
    unsigned long v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<unsigned long>(c - '0');
    }
    if (v < lo || v > hi) return false;
    out = v;
    return true;
}

// Seconds as "N" or "N.F" (at most 3 decimals), to milliseconds.
bool parse_seconds(std::string_view s, int& ms_out) {
    size_t dot = s.find('.');
    std::string_view whole = s.substr(0, dot);
    std::string_view frac = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
    if (whole.empty() && frac.empty()) return false;
    if (dot != std::string_view::npos && (frac.empty() || frac.size() > 3)) return false;
    unsigned long w = 0;
    if (!whole.empty() && !parse_uint(whole, 0, kMaxTimeoutMs / 1000, w)) return false;
    unsigned long f = 0;
    if (!frac.empty()) {
        if (!parse_uint(frac, 0, 999, f)) return false;
        for (size_t i = frac.size(); i < 3; ++i) f *= 10;
    }
    unsigned long ms = w * 1000 + f;
    if (ms < static_cast<unsigned long>(kMinTimeoutMs) ||
        ms > static_cast<unsigned long>(kMaxTimeoutMs))
        return false;
    ms_out = static_cast<int>(ms);
    return true;
}

// Splits "a,b,,c" into non-empty items.
void split_commas(std::string_view s, std::vector<std::string>& out) {
    while (!s.empty()) {
        size_t comma = s.find(',');
        std::string_view item = s.substr(0, comma);
        if (!item.empty()) out.emplace_back(item);
        if (comma == std::string_view::npos) break;
        s.remove_prefix(comma + 1);
    }
}

// "app_label.codename": one dot with something on both sides, as Django's
// has_perm expects; anything else can never be granted.
bool valid_permission(std::string_view p) {
    size_t dot = p.find('.');
    return dot != std::string_view::npos && dot > 0 && dot + 1 < p.size() &&
           p.find('.', dot + 1) == std::string_view::npos;
}

// Arguments end up in the log: keep them printable and short.
std::string printable(std::string_view s) { return names::printable(s, 200, names::Escape::Mark); }

}  // namespace

Args parse_args(int argc, const char* const* argv) {
    Args a;
    for (int i = 0; i < argc && argv != nullptr; ++i) {
        if (argv[i] == nullptr) continue;
        std::string_view arg = argv[i];
        std::string_view v;
        unsigned long n = 0;

        if (arg == "debug") a.debug = true;
        else if (arg == "audit") a.audit = true;
        else if (arg == "use_first_pass") a.use_first_pass = true;
        else if (arg == "try_first_pass") a.try_first_pass = true;
        else if (arg == "use_authtok") a.use_authtok = true;
        else if (arg == "ignore_unknown_user") a.ignore_unknown_user = true;
        else if (arg == "ignore_authinfo_unavail") a.ignore_authinfo_unavail = true;
        else if (arg == "nullok") a.nullok = true;
        else if (arg == "require_staff") a.require_staff = true;
        else if (arg == "require_superuser") a.require_superuser = true;
        else if (arg == "nodelay") a.fail_delay_ms = 0;
        else if (arg == "otp_concat") a.otp_concat = true;
        else if (value_of(arg, "socket", v)) {
            if (v.empty() || v.front() != '/' || v.size() >= 108)
                a.warnings.push_back("socket must be an absolute path shorter than 108 bytes: " +
                                     printable(arg));
            else
                a.socket = std::string(v);
        } else if (value_of(arg, "timeout", v)) {
            if (!parse_seconds(v, a.timeout_ms))
                a.warnings.push_back("bad timeout (seconds, 0.1 to 300): " + printable(arg));
        } else if (value_of(arg, "minlen", v)) {
            if (parse_uint(v, 0, kMaxMinlen, n)) a.minlen = static_cast<unsigned>(n);
            else a.warnings.push_back("bad minlen (0 to 4096): " + printable(arg));
        } else if (value_of(arg, "fail_delay", v)) {
            if (parse_uint(v, 0, kMaxFailDelayMs, n)) a.fail_delay_ms = static_cast<unsigned>(n);
            else a.warnings.push_back("bad fail_delay (milliseconds, 0 to 60000): " + printable(arg));
        } else if (value_of(arg, "require_group", v)) {
            size_t before = a.require_groups.size();
            split_commas(v, a.require_groups);
            if (a.require_groups.size() == before)
                a.warnings.push_back("empty require_group ignored");
        } else if (value_of(arg, "require_permission", v)) {
            if (valid_permission(v)) a.require_permissions.emplace_back(v);
            else {
                // Fail closed: a requirement the admin wrote must not vanish
                // because of a typo, so keep it; it can never be granted.
                a.require_permissions.emplace_back(v);
                a.warnings.push_back("require_permission is not app_label.codename "
                                     "(no user can have it): " + printable(arg));
            }
        } else if (value_of(arg, "otp", v)) {
            if (v == "off") a.otp = OtpPolicy::Off;
            else if (v == "if_enrolled") a.otp = OtpPolicy::IfEnrolled;
            else if (v == "required") a.otp = OtpPolicy::Required;
            else {
                // Fail closed: a typo must not turn a second factor off.
                a.otp = OtpPolicy::Required;
                a.warnings.push_back("bad otp (off, if_enrolled or required; taken as required): " +
                                     printable(arg));
            }
        } else if (value_of(arg, "authtok_type", v)) {
            // read by pam_get_authtok itself
        } else {
            a.warnings.push_back("unknown option: " + printable(arg));
        }
    }
    if (a.otp_concat && a.otp == OtpPolicy::Off)
        a.warnings.push_back("otp_concat without otp=if_enrolled or otp=required does nothing");
    return a;
}

}  // namespace dj::pam
