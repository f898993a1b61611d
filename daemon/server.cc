#include "daemon/server.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/protocol.h"
#include "daemon/log.h"

namespace dj {
namespace {
using Clock = std::chrono::steady_clock;
constexpr uint64_t kListenId = 1, kEventId = 2, kSignalId = 3;
constexpr size_t kReadChunk = 16 * 1024;
}  // namespace

struct Server::Conn {
    int fd = -1;
    uint64_t id = 0;
    Peer peer;
    std::string in;              // bytes read, not yet a whole frame
    std::vector<uint8_t> out;    // response being written
    size_t out_off = 0;
    bool busy = false;           // a request is with a worker
    bool close_after = false;
    bool eof = false;            // the client shut down its side (may still await an answer)
    uint32_t watched = 0;        // current epoll interest
    Clock::time_point last = Clock::now();
    ~Conn() {
        explicit_bzero(in.data(), in.size());
        if (fd >= 0) close(fd);
    }
};

Server::Server(int listen_fd, Handler& handler, ServerOptions opt)
    : listen_fd_(listen_fd), handler_(handler), opt_(opt) {}

Server::~Server() {
    if (lookups_) lookups_->stop();
    if (auths_) auths_->stop();
    conns_.clear();
    if (epoll_fd_ >= 0) close(epoll_fd_);
    if (event_fd_ >= 0) close(event_fd_);
    if (signal_fd_ >= 0) close(signal_fd_);
}

int Server::run(Cache& cache) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    signal_fd_ = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    if (epoll_fd_ < 0 || event_fd_ < 0 || signal_fd_ < 0) {
        log::say(LOG_ERR, "cannot set up the event loop: %s", strerror(errno));
        return 1;
    }
    auto add = [this](int fd, uint64_t id) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = id;
        return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
    };
    if (!add(listen_fd_, kListenId) || !add(event_fd_, kEventId) || !add(signal_fd_, kSignalId)) {
        log::say(LOG_ERR, "epoll_ctl: %s", strerror(errno));
        return 1;
    }
    lookups_ = std::make_unique<WorkerPool>("lookup", opt_.lookup_threads, opt_.max_pending_lookups);
    auths_ = std::make_unique<WorkerPool>("auth", opt_.auth_threads, opt_.max_pending_auth, /*background=*/true);
    log::say(LOG_INFO, "ready: %zu lookup and %zu authentication workers", lookups_->threads(), auths_->threads());

    auto last_sweep = Clock::now();
    epoll_event events[64];
    for (;;) {
        int n = epoll_wait(epoll_fd_, events, 64, 1000);
        if (n < 0 && errno != EINTR) {
            log::say(LOG_ERR, "epoll_wait: %s", strerror(errno));
            return 1;
        }
        for (int i = 0; i < n; ++i) {
            uint64_t id = events[i].data.u64;
            if (id == kListenId) {
                accept_all();
            } else if (id == kEventId) {
                uint64_t v;
                while (read(event_fd_, &v, sizeof v) > 0) {
                }
                finish_completions();
            } else if (id == kSignalId) {
                signalfd_siginfo si;
                while (read(signal_fd_, &si, sizeof si) == sizeof si) {
                    if (si.ssi_signo == SIGHUP) {
                        cache.flush();
                        log::say(LOG_INFO, "SIGHUP: cache flushed");
                    } else {
                        log::say(LOG_INFO, "signal %u: shutting down", si.ssi_signo);
                        return 0;
                    }
                }
            } else {
                on_event(id, events[i].events);
            }
        }
        if (Clock::now() - last_sweep >= std::chrono::seconds(1)) {
            sweep_idle();
            last_sweep = Clock::now();
        }
    }
}

void Server::accept_all() {
    for (;;) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log::say(LOG_WARNING, "accept: %s", strerror(errno));
            return;
        }
        if (conns_.size() >= size_t(opt_.max_connections)) {
            // At the limit, the connection idle the longest (nothing read,
            // nothing to write, no request with a worker) makes room: a
            // crowd of idle connections cannot lock out a new client. Only
            // when every connection is mid-request is the new one refused.
            Conn* oldest = nullptr;
            for (auto& [cid, other] : conns_)
                if (!other->busy && other->in.empty() && other->out.empty() &&
                    (oldest == nullptr || other->last < oldest->last))
                    oldest = other.get();
            if (oldest == nullptr) {
                close(fd);
                if (refused_++ % 1000 == 0)
                    log::say(LOG_WARNING, "connection refused: %d connections open, none idle (max_connections)",
                             opt_.max_connections);
                continue;
            }
            if (evicted_++ % 1000 == 0)
                log::say(LOG_WARNING, "%d connections open (max_connections): closing the longest idle ones",
                         opt_.max_connections);
            close_conn(oldest->id);
        }
        auto c = std::make_unique<Conn>();
        c->fd = fd;
        c->id = next_id_++;
        if (!peer_of(fd, c->peer)) log::say(LOG_WARNING, "no peer credentials on a connection");
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u64 = c->id;
        if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
            log::say(LOG_WARNING, "epoll_ctl: %s", strerror(errno));
            continue;  // c closes the fd
        }
        c->watched = EPOLLIN | EPOLLRDHUP;
        handler_.count_connection();
        conns_.emplace(c->id, std::move(c));
    }
}

void Server::watch(Conn& c) {
    uint32_t want = c.busy ? 0
                    : c.out_off < c.out.size() ? EPOLLOUT
                    : c.eof ? 0
                            : EPOLLIN | EPOLLRDHUP;
    if (want == c.watched) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = c.id;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
    c.watched = want;
}

void Server::close_conn(uint64_t id) { conns_.erase(id); }

void Server::on_event(uint64_t id, uint32_t events) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    Conn& c = *it->second;
    if (events & (EPOLLERR | EPOLLHUP)) {
        close_conn(id);  // a worker's late answer is dropped in finish_completions
        return;
    }
    if (events & EPOLLOUT) {
        write_to(c);
        return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP)) read_from(c);
}

void Server::read_from(Conn& c) {
    const uint64_t id = c.id;
    char buf[kReadChunk];
    for (;;) {
        // Never hold more than one maximal frame plus a little.
        if (c.in.size() >= 4 + proto::kMaxRequest) break;
        ssize_t n = recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            c.in.append(buf, size_t(n));
            c.last = Clock::now();
            continue;
        }
        explicit_bzero(buf, sizeof buf);
        if (n == 0) {  // the client shut down its writing side: answer what is buffered
            c.eof = true;
            break;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return close_conn(id);
    }
    explicit_bzero(buf, sizeof buf);
    dispatch(c);
}

void Server::dispatch(Conn& c) {
    const uint64_t id = c.id;
    if (c.busy || c.out_off < c.out.size()) return;
    if (c.in.size() < 4) return c.eof ? close_conn(id) : watch(c);
    uint32_t len = proto::read_be32(reinterpret_cast<const uint8_t*>(c.in.data()));
    if (len > proto::kMaxRequest || len < proto::kHeaderSize) {
        log::say(LOG_NOTICE, "bad frame length %u from uid %u pid %d: closing", len, unsigned(c.peer.uid),
                 int(c.peer.pid));
        return close_conn(id);
    }
    if (c.in.size() < 4 + size_t(len)) return c.eof ? close_conn(id) : watch(c);
    auto frame = std::make_shared<std::string>(c.in, 4, len);
    explicit_bzero(c.in.data(), 4 + size_t(len));
    c.in.erase(0, 4 + size_t(len));
    auto op = static_cast<proto::Op>(static_cast<uint8_t>((*frame)[1]));
    c.busy = true;
    watch(c);
    Peer peer = c.peer;
    auto job = [this, id, peer, frame] {
        Reply r = handler_.handle(*frame, peer);
        explicit_bzero(frame->data(), frame->size());
        {
            std::lock_guard<std::mutex> lock(done_mutex_);
            done_.emplace_back(id, std::move(r));
        }
        uint64_t one = 1;
        if (write(event_fd_, &one, sizeof one) < 0) {
            // The counter cannot overflow in practice; the loop also polls.
        }
    };
    WorkerPool& pool = Handler::is_auth_op(op) ? *auths_ : *lookups_;
    if (!pool.submit(job)) {
        explicit_bzero(frame->data(), frame->size());
        proto::Writer w(op, Handler::is_auth_op(op) ? proto::Status::Throttled : proto::Status::Unavailable);
        c.busy = false;
        c.out = std::move(w.finish());
        c.out_off = 0;
        log::say(LOG_WARNING, "%s: queue full, request refused", proto::op_name(op));
        write_to(c);
    }
}

void Server::finish_completions() {
    std::vector<std::pair<uint64_t, Reply>> done;
    {
        std::lock_guard<std::mutex> lock(done_mutex_);
        done.swap(done_);
    }
    for (auto& [id, reply] : done) {
        auto it = conns_.find(id);
        if (it == conns_.end()) continue;  // the client went away meanwhile
        Conn& c = *it->second;
        c.busy = false;
        c.out = std::move(reply.frame);
        c.out_off = 0;
        c.close_after = reply.close;
        write_to(c);
    }
}

void Server::write_to(Conn& c) {
    const uint64_t id = c.id;
    while (c.out_off < c.out.size()) {
        ssize_t n = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c.out_off += size_t(n);
            c.last = Clock::now();
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return watch(c);
        return close_conn(id);
    }
    c.out.clear();
    c.out.shrink_to_fit();
    c.out_off = 0;
    if (c.close_after) return close_conn(id);
    dispatch(c);  // a pipelined request may already be buffered
}

void Server::sweep_idle() {
    auto now = Clock::now();
    auto limit = std::chrono::seconds(opt_.idle_timeout_s);
    std::vector<uint64_t> idle;
    for (auto& [id, c] : conns_)
        if (!c->busy && now - c->last > limit) idle.push_back(id);
    for (uint64_t id : idle) close_conn(id);
}

}  // namespace dj
