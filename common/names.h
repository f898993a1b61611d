// Names: the one place that says which user and group names go where. The
// daemon, both modules and the CLI use these rules; nothing else decides.
//
//   nss_ok          a name NSS and the passwd/group file formats can carry
//                   (the daemon serves no other; the NSS module asks for no
//                   other)
//   plausible_user  a name worth asking the daemon to authenticate (PAM):
//                   Django's own limit, looser than nss_ok so that the daemon,
//                   not the module, says "no such user" and counts the try
//   reserved        kReservedUsers / kReservedGroups (names_reserved.cc),
//                   never served whether the host has them or not; "local"
//                   names (the host's passwd and group files) are read by the
//                   daemon (daemon/host_names.h) and compared with fold()
//   printable       user-supplied text made safe for one log line
//
// Client code: libc and libstdc++ only (the modules link it).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace dj::names {

// Longest name NSS carries, in bytes.
inline constexpr size_t kMaxNssBytes = 255;
// Django's User.username is at most 150 characters.
inline constexpr size_t kMaxUserChars = 150;

// Not empty, at most 255 bytes, no ':' ',' ' ' '/' or control characters,
// not starting with '+' or '-' (compat-mode markers), not "." or "..".
bool nss_ok(std::string_view name);

// `name` without trailing spaces. A lookup by name checks the name asked for
// with it: a database whose collation pads (MySQL's PAD SPACE) finds "alice "
// as alice, as Django there does, and the answer carries the stored name.
std::string_view without_trailing_spaces(std::string_view name);

// Not empty, not starting with '+' or '-', at most 150 characters (UTF-8),
// no control characters.
bool plausible_user(std::string_view name);

// Number of characters (UTF-8 code points) in `s`, as Django's len() counts.
size_t utf8_length(std::string_view s);

// ASCII lower case: how reserved and local names are compared (sudo's
// case_insensitive_group, MySQL collations).
std::string fold(std::string_view s);

// The built-in reserved names (names_reserved.cc); [nss] reserved_users and
// reserved_groups add to them.
extern const std::vector<std::string_view> kReservedUsers;
extern const std::vector<std::string_view> kReservedGroups;

// How printable() shows a byte it does not keep: Hex writes \xNN for control
// characters, '\\' and every byte from 0x7f (the daemon's log: nothing is
// lost); Mark writes '?' for control characters and keeps UTF-8 (the PAM
// module's log lines, read by people in the host's syslog).
enum class Escape { Hex, Mark };

// `s` made safe for one log line: its first `max` bytes, then "..." when it
// was longer.
std::string printable(std::string_view s, size_t max, Escape how);

}  // namespace dj::names
