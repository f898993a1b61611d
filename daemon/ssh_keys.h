// The public key lines django-authd hands to sshd (AuthorizedKeysCommand):
// each stored key is checked before it is printed, because the Django site
// is less trusted than the host (README, "Trust boundary"): a user who can
// edit their key in a web form must not be able to add a second key line, an
// option the administrator did not allow (command=, from=, environment=...)
// or anything sshd would read differently from what the site shows.
//
// A line is accepted when it is, after leading and trailing spaces:
//   [options] TYPE BASE64 [comment]
// with no control character anywhere (newline, CR, NUL, tab, DEL), TYPE one
// of kKeyTypes, BASE64 strict base64 whose decoded blob starts with the same
// TYPE (SSH wire string: u32 length, bytes), every option allowed, and at
// most kMaxKeyLine bytes. The accepted line is given back normalized (single
// spaces between the fields).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dj::sshkeys {

// Longer lines are refused (a 16384-bit RSA key is about 2.8 KB of base64);
// it is also under the protocol's string limit.
inline constexpr size_t kMaxKeyLine = 8 * 1024;

// The key types OpenSSH accepts in authorized_keys (not ssh-dss, which
// OpenSSH 9 disables, nor certificates, which need cert-authority keys).
extern const std::vector<std::string_view> kKeyTypes;

// The options an administrator allows ([ssh] allowed_options): each entry is
// a flag name ("no-agent-forwarding") or a name that takes a value, written
// with its '=' ("from="); the config reader checks their form. Names compare
// case-insensitively, as sshd reads them.
struct AllowedOptions {
    std::vector<std::string> entries;
    bool allows(std::string_view name, bool with_value) const;
};

// The checked, normalized line, or nothing with `why` set to the reason
// (short, and never quoting the key).
std::optional<std::string> check_line(std::string_view stored, const AllowedOptions& allowed, std::string& why);

}  // namespace dj::sshkeys
