// The socket client the PAM and NSS modules (and django-authctl) use to talk
// to django-authd. It runs inside arbitrary host processes, so it:
//   - uses libc only, never throws out of call() (returns a status instead),
//   - opens sockets with SOCK_CLOEXEC, sends with MSG_NOSIGNAL (no SIGPIPE),
//   - bounds every wait (poll with a deadline, EINTR handled),
//   - never reuses a connection across fork() (a child opens its own),
//   - checks that the socket file is owned by root or by the daemon's user,
//   - holds no lock while it does I/O,
//   - does not even connect to a daemon known not to answer (a stale
//     heartbeat in its shared cache file, common/shared_cache.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/protocol.h"

namespace dj::client {

struct Options {
    std::string socket_path;   // empty: default_socket_path()
    int timeout_ms = 2000;     // whole request: connect, send, receive
};

// DJANGO_AUTH_SOCKET when set and the process is not setuid/setgid
// (secure_getenv), else proto::kDefaultSocket.
std::string default_socket_path();

enum class Transport {
    Ok,            // a well-formed response frame of the same op was read
    Unavailable,   // no daemon, refused, timed out, bad owner, bad frame
};

struct Response {
    Transport transport = Transport::Unavailable;
    proto::Status status = proto::Status::Unavailable;
    std::string frame;   // whole frame without the u32 length, for proto::Reader
    std::string error;   // why Unavailable, for logs
};

// Sends one finished request frame (proto::Writer::finish()) and reads the
// response. Never throws.
Response call(const Options& opt, const std::vector<uint8_t>& request) noexcept;

}  // namespace dj::client
