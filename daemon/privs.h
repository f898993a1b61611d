// Dropping root after the socket is open and the secrets are read.
#pragma once

#include <string>

namespace dj {

// Switches to `user` (from /etc/passwd, never through NSS): its gid as the
// only group, then its uid. False and `error` on any failure.
// Then the process is made non-dumpable again (see forbid_dumps: a uid
// change resets the flag to fs.suid_dumpable).
bool drop_privileges(const std::string& user, std::string& error);

// The directory of a file the daemon keeps (the offline credentials), made
// before privileges are dropped when missing: mode 0700, owned by `user`
// (empty: the current user). An existing one is left as it is (the file's
// reader checks it). False and `error` when it cannot be made.
bool make_private_dir(const std::string& file, const std::string& user, std::string& error);

// No core file and no ptrace by other users, for a process that holds
// passwords and hashes: PR_SET_DUMPABLE 0 (which also makes /proc/PID/*
// root's) and RLIMIT_CORE 0. False and `error` on failure.
bool forbid_dumps(std::string& error);

}  // namespace dj
