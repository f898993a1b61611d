// The socket client described in client.h.
//
// One request per connection: call() connects, sends, shuts down its
// writing side (the daemon then closes the connection as soon as it has
// answered, with no further wake-up for our close), reads one response and
// closes. Nothing is cached between calls, so a forked child can never share
// its parent's connection, and no lock is needed at all.
//
// Trust in the socket: before connecting, the socket file must be owned by
// root or by the owner of the directory that holds it (the daemon's user owns
// /run/django-auth when it does not run as root). After connecting, the peer
// (SO_PEERCRED of the process that listens) must be root, the directory's
// owner or the socket file's owner. A daemon therefore creates its socket
// either as root or in a directory owned by its own user; a socket planted by
// some other user in a shared directory is refused.
//
// A daemon known not to answer (the heartbeat in its shared cache file beside the
// socket is stale, see common/shared_cache.h) is not asked: call() fails at once, as
// for a daemon that is not there, instead of waiting its whole timeout.
#include "common/client.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/shared_cache.h"

namespace dj::client {
namespace {

class Fd {
public:
    explicit Fd(int fd) noexcept : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const noexcept { return fd_; }

private:
    int fd_;
};

// Restores errno when the call returns: the host program's errno is not ours.
class ErrnoGuard {
public:
    ErrnoGuard() noexcept : saved_(errno) {}
    ~ErrnoGuard() { errno = saved_; }
    ErrnoGuard(const ErrnoGuard&) = delete;
    ErrnoGuard& operator=(const ErrnoGuard&) = delete;

private:
    int saved_;
};

int64_t now_ms() noexcept {
    struct timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

struct Deadline {
    int64_t at;
    // Milliseconds left for poll(), 0 when expired (poll then just checks).
    int left() const noexcept {
        int64_t d = at - now_ms();
        if (d <= 0) return 0;
        return d > 60000 ? 60000 : int(d);
    }
    bool expired() const noexcept { return now_ms() >= at; }
};

// Waits for `events` on fd until the deadline. true when ready.
bool wait_for(int fd, short events, const Deadline& dl, std::string& err) {
    for (;;) {
        if (dl.expired()) {
            err = "timed out";
            return false;
        }
        struct pollfd p {};
        p.fd = fd;
        p.events = events;
        int r = ::poll(&p, 1, dl.left());
        if (r < 0) {
            if (errno == EINTR) continue;
            err = std::string("poll: ") + std::strerror(errno);
            return false;
        }
        if (r == 0) continue;  // loop re-checks the deadline
        if (p.revents & events) return true;
        if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) {
            err = "connection closed";
            return false;
        }
    }
}

std::string parent_dir(const std::string& path) {
    auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

// The ownership rule described at the top of this file. Returns the uids the
// peer may have (root, directory owner, socket owner) through dir_uid/sock_uid.
bool socket_trusted(const std::string& path, uid_t& dir_uid, uid_t& sock_uid, std::string& err) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        err = "stat " + path + ": " + std::strerror(errno);
        return false;
    }
    if (!S_ISSOCK(st.st_mode)) {
        err = path + " is not a socket";
        return false;
    }
    struct stat dst {};
    std::string dir = parent_dir(path);
    if (::stat(dir.c_str(), &dst) != 0) {
        err = "stat " + dir + ": " + std::strerror(errno);
        return false;
    }
    if (st.st_uid != 0 && st.st_uid != dst.st_uid) {
        err = path + " is owned by uid " + std::to_string(st.st_uid) +
              ", neither root nor the owner of " + dir;
        return false;
    }
    dir_uid = dst.st_uid;
    sock_uid = st.st_uid;
    return true;
}

bool connect_to(int fd, const std::string& path, const Deadline& dl, std::string& err) {
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());  // length checked by the caller
    auto* sa = reinterpret_cast<struct sockaddr*>(&addr);
    for (;;) {
        if (::connect(fd, sa, sizeof addr) == 0) return true;
        int e = errno;
        if (e == EISCONN) return true;
        if (e == EINTR) continue;
        if (e == EAGAIN) {
            // A Unix socket with a full backlog: nothing is in progress, so
            // retry a little later, still within the deadline.
            if (dl.expired()) {
                err = "connect: timed out (backlog full)";
                return false;
            }
            struct timespec ts {0, 5 * 1000 * 1000};
            nanosleep(&ts, nullptr);
            continue;
        }
        if (e == EINPROGRESS || e == EALREADY) {
            if (!wait_for(fd, POLLOUT, dl, err)) return false;
            int soerr = 0;
            socklen_t len = sizeof soerr;
            if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) soerr = errno;
            if (soerr == 0) return true;
            err = std::string("connect: ") + std::strerror(soerr);
            return false;
        }
        err = "connect " + path + ": " + std::strerror(e);
        return false;
    }
}

bool send_all(int fd, const uint8_t* p, size_t n, const Deadline& dl, std::string& err) {
    while (n > 0) {
        ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= size_t(w);
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_for(fd, POLLOUT, dl, err)) return false;
            continue;
        }
        err = std::string("send: ") + (w < 0 ? std::strerror(errno) : "short write");
        return false;
    }
    return true;
}

// Reads exactly n bytes into p.
bool recv_all(int fd, char* p, size_t n, const Deadline& dl, std::string& err) {
    while (n > 0) {
        ssize_t r = ::recv(fd, p, n, 0);
        if (r > 0) {
            p += r;
            n -= size_t(r);
            continue;
        }
        if (r == 0) {
            err = "connection closed by the daemon";
            return false;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (!wait_for(fd, POLLIN, dl, err)) return false;
            continue;
        }
        err = std::string("recv: ") + std::strerror(errno);
        return false;
    }
    return true;
}

Response do_call(const Options& opt, const std::vector<uint8_t>& request) {
    Response res;
    const int timeout = opt.timeout_ms > 0 ? opt.timeout_ms : 2000;
    const Deadline dl{now_ms() + timeout};

    // The request must be one finished frame: length prefix, then a header.
    if (request.size() < 4 + proto::kHeaderSize ||
        proto::read_be32(request.data()) != request.size() - 4 ||
        request.size() - 4 > proto::kMaxRequest) {
        res.error = "malformed request frame";
        return res;
    }
    const uint8_t op = request[5];

    const std::string path = opt.socket_path.empty() ? default_socket_path() : opt.socket_path;
    if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path)) {
        res.error = "bad socket path";
        return res;
    }

    uid_t dir_uid = 0, sock_uid = 0;
    if (!socket_trusted(path, dir_uid, sock_uid, res.error)) return res;
    if (shared_cache::daemon_stalled(path)) {
        res.error = "the daemon does not answer (no heartbeat for " +
                    std::to_string(shared_cache::kHeartbeatStaleNs / 1000000000) + " s in " + shared_cache::path_for_socket(path) + ")";
        return res;
    }

    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (fd.get() < 0) {
        res.error = std::string("socket: ") + std::strerror(errno);
        return res;
    }
    if (!connect_to(fd.get(), path, dl, res.error)) return res;

    struct ucred cred {};
    socklen_t clen = sizeof cred;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0) {
        res.error = std::string("SO_PEERCRED: ") + std::strerror(errno);
        return res;
    }
    if (cred.uid != 0 && cred.uid != dir_uid && cred.uid != sock_uid) {
        res.error = "the daemon runs as uid " + std::to_string(cred.uid) +
                    ", neither root nor the socket's owner";
        return res;
    }

    if (!send_all(fd.get(), request.data(), request.size(), dl, res.error)) return res;
    ::shutdown(fd.get(), SHUT_WR);  // a failure changes nothing: the answer still comes

    uint8_t lenbuf[4];
    if (!recv_all(fd.get(), reinterpret_cast<char*>(lenbuf), 4, dl, res.error)) return res;
    const uint32_t len = proto::read_be32(lenbuf);
    if (len < proto::kHeaderSize || len > proto::kMaxResponse) {
        res.error = "response length " + std::to_string(len) + " out of range";
        return res;
    }
    // Grow as the bytes arrive rather than trusting the length up front.
    std::string frame;
    size_t have = 0;
    while (have < len) {
        size_t chunk = len - have;
        if (chunk > 256 * 1024) chunk = 256 * 1024;
        frame.resize(have + chunk);
        if (!recv_all(fd.get(), frame.data() + have, chunk, dl, res.error)) return res;
        have += chunk;
    }

    const auto version = static_cast<uint8_t>(frame[0]);
    if (version != proto::kProtocolVersion) {
        res.error = "response protocol version " + std::to_string(version);
        return res;
    }
    if (static_cast<uint8_t>(frame[1]) != op) {
        res.error = "response op does not match the request";
        return res;
    }
    if (frame[3] != 0) {
        res.error = "response header reserved byte not zero";
        return res;
    }
    res.status = static_cast<proto::Status>(static_cast<uint8_t>(frame[2]));
    res.frame = std::move(frame);
    res.transport = Transport::Ok;
    return res;
}

}  // namespace

std::string default_socket_path() {
    try {
        const char* env = ::secure_getenv("DJANGO_AUTH_SOCKET");
        if (env != nullptr && *env != '\0') return env;
        return proto::kDefaultSocket;
    } catch (...) {
        return {};
    }
}

Response call(const Options& opt, const std::vector<uint8_t>& request) noexcept {
    ErrnoGuard keep_errno;
    try {
        return do_call(opt, request);
    } catch (...) {
        try {
            Response r;
            r.error = "out of memory";
            return r;
        } catch (...) {
            return Response{};
        }
    }
}

}  // namespace dj::client
