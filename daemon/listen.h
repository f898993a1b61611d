// The listening socket: handed over by systemd (socket activation, fd 3 with
// LISTEN_FDS/LISTEN_PID; no libsystemd needed) or created here with mode 0666
// in a 0755 directory, so every local user can connect; who may do what is
// decided per request from the peer's credentials.
#pragma once

#include <string>

namespace dj {

// The socket systemd passed, or -1. Clears LISTEN_* from the environment.
int systemd_listen_fd();

// Creates, binds and listens on `path`; -1 and `error` on failure. Refuses to
// replace a socket another daemon is still answering on.
int open_listen_socket(const std::string& path, std::string& error);

}  // namespace dj
