// Dropping root after the socket is open and the secrets are read.
#pragma once

#include <string>

namespace dj {

// Switches to `user` (from /etc/passwd, never through NSS): its gid as the
// only group, then its uid. False and `error` on any failure.
bool drop_privileges(const std::string& user, std::string& error);

}  // namespace dj
