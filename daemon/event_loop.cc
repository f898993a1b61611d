#include "daemon/event_loop.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

#include "common/protocol.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "daemon/shared_cache_writer.h"

namespace dj {
namespace {
using Clock = std::chrono::steady_clock;
constexpr uint64_t kListenId = 1, kEventId = 2, kExtraId = 3;
constexpr size_t kReadChunk = 16 * 1024;
// Connections accepted per wake-up: the listening socket stays readable
// while more wait, so the other loops get their share of a burst.
constexpr int kAcceptBatch = 8;
constexpr int64_t kClaimed = -1;
// Connections claimed to make room that their loops have not closed yet:
// past this many, a new connection is refused instead, so that the open
// files stay within max_connections plus this (the daemon's file limit has
// room for it).
constexpr long kMaxClaims = 16;
// How long the listening socket is left alone after accept ran out of file
// descriptors (it stays readable: retrying at once would only spin and log).
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
constexpr Clock::time_point kNoDeadline = Clock::time_point::max();
// How long a connection must have been idle before it may be closed to make
// room. A new connection counts as idle until its first bytes are read: the
// grace lets them be read, so that a storm of new connections cannot close
// the newcomers of others before their request is in.
constexpr auto kMinIdle = std::chrono::milliseconds(200);

// The answer to a request no worker could take, logged for its caller.
Reply too_busy(proto::Op op, uid_t uid) {
    log::say_for(uid, LOG_WARNING, "%s: queue full, request of uid %u refused", proto::op_name(op), unsigned(uid));
    proto::Writer w(op, Handler::is_auth_op(op) ? proto::Status::Throttled : proto::Status::Unavailable);
    // Throttled with 0 seconds: busy, nobody is locked out (common/protocol.h).
    if (op == proto::Op::ChangePassword) w.str("the daemon is busy");
    if (Handler::is_auth_op(op)) w.u32(0);
    return Reply{std::move(w.finish()), false};
}
}  // namespace

struct EventLoop::Conn {
    int fd = -1;
    uint64_t id = 0;
    Peer peer;                   // SO_PEERCRED, read at accept
    bool privileged = false;     // root or an auth client (ServerOptions::privileged)
    // Holds one of its uid's max_connections_per_uid. Given back when it is
    // claimed to make room (by the claiming loop) or closed, whichever comes
    // first, so that a uid is not counted for connections already chosen.
    std::atomic<bool> uid_slot{false};
    std::string in;              // bytes read, not yet a whole frame
    std::vector<uint8_t> out;    // response being written
    size_t out_off = 0;
    bool busy = false;           // a request is with a worker
    bool close_after = false;
    bool eof = false;            // the client shut down its side (may still await an answer)
    uint32_t watched = 0;        // current epoll interest
    Clock::time_point last = Clock::now();
    // By when the request being read, or the answer being written, must be
    // through (request_timeout from its start); kNoDeadline while the
    // connection waits for nothing or for a worker.
    Clock::time_point deadline = kNoDeadline;
    // Read by other loops at the connection limit: when the connection
    // became idle (nothing read, nothing to write, no request with a
    // worker; steady clock ticks since boot), 0 while it is not, kClaimed once a loop
    // chose it to make room. The owner changes it by compare-and-swap only,
    // so a claim is never lost: settle() closes a claimed connection.
    std::atomic<int64_t> idle_since{0};
    // Set when the connection closes, for the jobs it queued: a client that
    // went away (timed out, killed) costs no hash and no query.
    std::shared_ptr<std::atomic<bool>> gone;
    ~Conn() {
        if (gone) gone->store(true);
        explicit_bzero(in.data(), in.size());
        if (fd >= 0) close(fd);
    }
};

EventLoop::EventLoop(LoopShared& shared) : s_(shared) {}

EventLoop::~EventLoop() {
    join();
    conns_.clear();
    if (epoll_fd_ >= 0) close(epoll_fd_);
    if (event_fd_ >= 0) close(event_fd_);
}

bool EventLoop::init() {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_fd_ < 0 || event_fd_ < 0) {
        log::say(LOG_ERR, "cannot set up an event loop: %s", strerror(errno));
        return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.u64 = kListenId;
    bool ok = epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, s_.listen_fd, &ev) == 0;
    ev.events = EPOLLIN;
    ev.data.u64 = kEventId;
    ok = ok && epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, event_fd_, &ev) == 0;
    if (!ok) log::say(LOG_ERR, "epoll_ctl: %s", strerror(errno));
    return ok;
}

void EventLoop::start_thread(const char* name) {
    thread_ = std::thread([this] { run(); });
    pthread_setname_np(thread_.native_handle(), name);
}

void EventLoop::join() {
    if (thread_.joinable()) thread_.join();
}

void EventLoop::wake() {
    uint64_t one = 1;
    if (write(event_fd_, &one, sizeof one) < 0) {
        // Only EAGAIN at a counter near 2^64; the loop also polls each second.
    }
}

void EventLoop::post(Done d) {
    bool was_empty;
    {
        std::lock_guard<std::mutex> lock(inbox_mutex_);
        was_empty = inbox_.empty();
        inbox_.push_back(std::move(d));
    }
    // The loop drains the eventfd before it takes the inbox, so one wake-up
    // per batch is enough.
    if (was_empty) wake();
}

void EventLoop::complete(uint64_t id, Reply reply) { post(Done{id, std::move(reply), false}); }

void EventLoop::run(int extra_fd, const std::function<void()>& on_extra) {
    if (extra_fd >= 0) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = kExtraId;
        if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, extra_fd, &ev) != 0)
            log::say(LOG_ERR, "epoll_ctl: %s", strerror(errno));
    }
    auto last_sweep = Clock::now();
    epoll_event events[64];
    // The heartbeat (common/shared_cache.h) is stamped here, by the loop
    // itself, so that it stops when the loop stops: every loop wakes at
    // least once per interval for it (SharedCacheWriter::beat skips the stamps
    // another loop just made), and any loop that runs keeps it fresh, as any
    // loop waiting in epoll_wait takes new connections.
    SharedCacheWriter* const beats = s_.shared_cache;
    const int max_wait_ms = beats != nullptr ? int(shared_cache::kHeartbeatIntervalNs / 1000000) : 1000;
    while (!s_.stopping.load(std::memory_order_acquire)) {
        if (beats != nullptr) beats->beat(shared_cache::monotonic_ns());
        int timeout_ms = max_wait_ms;
        if (accept_paused_) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(accept_resume_ - Clock::now()).count();
            timeout_ms = int(std::clamp<int64_t>(left + 1, 0, max_wait_ms));
        }
        int n = epoll_wait(epoll_fd_, events, 64, timeout_ms);
        if (n < 0 && errno != EINTR) {
            log::say(LOG_ERR, "epoll_wait: %s", strerror(errno));
            s_.failed.store(true);
            s_.stopping.store(true, std::memory_order_release);
            for (auto& loop : s_.loops) loop->wake();
            return;
        }
        for (int i = 0; i < n; ++i) {
            const uint64_t id = events[i].data.u64;
            if (id == kListenId) {
                accept_all();
            } else if (id == kEventId) {
                uint64_t v;
                while (read(event_fd_, &v, sizeof v) > 0) {
                }
                take_inbox();
            } else if (id == kExtraId) {
                if (on_extra) on_extra();
            } else {
                on_event(id, events[i].events);
                settle(id);
            }
        }
        if (accept_paused_ && Clock::now() >= accept_resume_) resume_accepting();
        if (Clock::now() - last_sweep >= std::chrono::seconds(1)) {
            sweep_idle();
            log::tick();
            last_sweep = Clock::now();
        }
    }
}

// --- connections: accept, and room at the limit ------------------------------------

void EventLoop::accept_all() {
    for (int i = 0; i < kAcceptBatch; ++i) {
        int fd = accept4(s_.listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                if (s_.accept_failed++ % 100 == 0)
                    log::say(LOG_WARNING, "accept: %s: not accepting for %lld ms", strerror(errno),
                             static_cast<long long>(kAcceptPause.count()));
                return pause_accepting();
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) log::say(LOG_WARNING, "accept: %s", strerror(errno));
            return;
        }
        auto c = std::make_unique<Conn>();  // closes fd whenever it goes
        c->fd = fd;
        if (!peer_of(fd, c->peer)) log::say(LOG_WARNING, "no peer credentials on a connection");
        c->privileged = s_.opt->privileged.allows(c->peer);
        if (!admit(*c)) continue;
        c->id = s_.next_id++;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u64 = c->id;
        if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
            log::say(LOG_WARNING, "epoll_ctl: %s", strerror(errno));
            if (c->uid_slot.exchange(false)) release_uid_slot(c->peer.uid);
            continue;
        }
        c->watched = EPOLLIN | EPOLLRDHUP;
        const uint64_t id = c->id;
        s_.handler->count_connection();
        s_.open++;
        if (!c->privileged) s_.open_unprivileged++;
        {
            std::lock_guard<std::mutex> lock(conns_mutex_);
            conns_.emplace(id, std::move(c));
        }
        settle(id);
    }
}

// Whether a new connection may stay, making room for it if need be.
bool EventLoop::admit(Conn& c) {
    const uint32_t uid = c.peer.uid;
    if (c.privileged) return has_room(uid, false);
    // Its uid's share first: past it, refused, and nobody else pays.
    if (!take_uid_slot(uid)) {
        log::say_for(uid, LOG_WARNING,
                     "connection refused: uid %u already has %d connections open (max_connections_per_uid)",
                     unsigned(uid), s_.opt->max_per_uid);
        return false;
    }
    const bool ok = has_room(uid, true);
    end_uid_slot(uid, ok);
    if (ok) c.uid_slot.store(true);
    return ok;
}

// Whether there is room for a new connection of `uid`, made if need be.
bool EventLoop::has_room(uint32_t uid, bool unprivileged) {
    const long max = s_.opt->max_connections;
    // Unprivileged callers together leave an eighth of the connections to
    // root and the auth clients.
    const long unprivileged_max = max - max / 8;
    const bool unprivileged_full =
        unprivileged && s_.open_unprivileged.load() - s_.claimed_unprivileged.load() >= unprivileged_max;
    const bool full = s_.open.load() - s_.claimed.load() >= max;
    if (!unprivileged_full && !full) return true;
    // At a limit, the connection idle the longest (in any loop; an
    // unprivileged one for an unprivileged newcomer at their bound) makes
    // room: a crowd of idle connections cannot lock out a new client. At the
    // unprivileged bound, failing that, the uid holding the most gives one
    // up. Only when every connection is mid-request (or too many are still
    // being closed) is the new one refused.
    if (s_.claimed.load() >= kMaxClaims ||
        !(make_room([unprivileged_full](EventLoop& l) { return l.longest_idle(unprivileged_full); }) ||
          (unprivileged_full && take_from_fullest_uid(uid)))) {
        s_.refused++;
        log::say_for(uid, LOG_WARNING,
                     "connection of uid %u refused: %ld connections open%s, none to close (max_connections)",
                     unsigned(uid), unprivileged_full ? unprivileged_max : max,
                     unprivileged_full ? " for unprivileged callers" : "");
        return false;
    }
    if (s_.evicted++ % 1000 == 0)
        log::say(LOG_WARNING, "%ld connections open (max_connections): closing the longest idle ones", max);
    return true;
}

// A uid's connections: those it holds, and those being admitted (counted
// against its share, not in the comparison between uids: a newcomer about to
// be refused must not make its uid look the fullest to another loop).
bool EventLoop::take_uid_slot(uint32_t uid) {
    std::lock_guard<std::mutex> lock(s_.per_uid_mutex);
    UidCount& n = s_.per_uid[uid];
    if (n.held + n.pending >= s_.opt->max_per_uid) {
        if (n.held + n.pending == 0) s_.per_uid.erase(uid);
        return false;
    }
    n.pending++;
    return true;
}

void EventLoop::end_uid_slot(uint32_t uid, bool admitted) {
    std::lock_guard<std::mutex> lock(s_.per_uid_mutex);
    auto it = s_.per_uid.find(uid);
    if (it == s_.per_uid.end()) return;
    it->second.pending--;
    if (admitted) it->second.held++;
    else if (it->second.held + it->second.pending <= 0) s_.per_uid.erase(it);
}

void EventLoop::release_uid_slot(uint32_t uid) {
    std::lock_guard<std::mutex> lock(s_.per_uid_mutex);
    auto it = s_.per_uid.find(uid);
    if (it != s_.per_uid.end() && --it->second.held + it->second.pending <= 0) s_.per_uid.erase(it);
}

void EventLoop::pause_accepting() {
    if (accept_paused_) return;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, s_.listen_fd, nullptr) != 0) return;  // keep watching, then
    accept_paused_ = true;
    accept_resume_ = Clock::now() + kAcceptPause;
}

void EventLoop::resume_accepting() {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.u64 = kListenId;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, s_.listen_fd, &ev) != 0) {
        log::say(LOG_ERR, "epoll_ctl: %s", strerror(errno));
        accept_resume_ = Clock::now() + kAcceptPause;  // try again
        return;
    }
    accept_paused_ = false;
}

bool EventLoop::make_room(const std::function<Victim(EventLoop&)>& find) {
    // A claim fails when the connection changed meanwhile: look again.
    for (int attempt = 0; attempt < 4; ++attempt) {
        EventLoop* best = nullptr;
        Victim victim;
        for (auto& loop : s_.loops) {
            Victim v = find(*loop);
            if (v.rank != 0 && (best == nullptr || v.rank < victim.rank)) {
                best = loop.get();
                victim = v;
            }
        }
        if (best == nullptr) return false;
        if (!best->claim(victim.id, victim.since)) continue;
        if (best == this)
            settle(victim.id);  // closes it
        else
            best->post(Done{victim.id, Reply{}, true});
        return true;
    }
    return false;
}

// At the unprivileged bound with no idle connection of theirs: the uid that
// holds the most connections gives up its oldest (idle or not), if it holds
// more than `uid` does with the new one.
bool EventLoop::take_from_fullest_uid(uint32_t uid) {
    uint32_t fullest = 0;
    int most = 0, mine = 0;
    {
        std::lock_guard<std::mutex> lock(s_.per_uid_mutex);
        for (const auto& [u, n] : s_.per_uid) {
            if (u == uid) mine = n.held;
            else if (n.held > most) most = n.held, fullest = u;
        }
    }
    // With the new one, `uid` would hold mine + 1, the fullest most - 1.
    if (most <= mine + 1 || !make_room([fullest](EventLoop& l) { return l.oldest_of(fullest); })) return false;
    log::say_for(fullest, LOG_NOTICE,
                 "uid %u holds the most connections (%d) of unprivileged callers: its oldest makes room for uid %u",
                 unsigned(fullest), most, unsigned(uid));
    return true;
}

EventLoop::Victim EventLoop::longest_idle(bool unprivileged_only) {
    Victim best;
    const int64_t latest = (Clock::now() - kMinIdle).time_since_epoch().count();
    std::lock_guard<std::mutex> lock(conns_mutex_);
    for (auto& [id, c] : conns_) {
        if (unprivileged_only && c->privileged) continue;
        const int64_t since = c->idle_since.load();
        if (since > 0 && since <= latest && (best.rank == 0 || since < best.rank)) best = Victim{id, since, since};
    }
    return best;
}

EventLoop::Victim EventLoop::oldest_of(uint32_t uid) {
    Victim best;
    std::lock_guard<std::mutex> lock(conns_mutex_);
    for (auto& [id, c] : conns_) {
        if (c->privileged || c->peer.uid != uid) continue;
        const int64_t since = c->idle_since.load();
        if (since != kClaimed && (best.rank == 0 || int64_t(id) < best.rank)) best = Victim{id, since, int64_t(id)};
    }
    return best;
}

bool EventLoop::claim(uint64_t id, int64_t since) {
    uint32_t uid;
    {
        std::lock_guard<std::mutex> lock(conns_mutex_);
        auto it = conns_.find(id);
        if (it == conns_.end() || !it->second->idle_since.compare_exchange_strong(since, kClaimed)) return false;
        Conn& c = *it->second;
        s_.claimed++;  // under the lock: close_conn cannot have run yet
        if (c.privileged) return true;
        s_.claimed_unprivileged++;
        if (!c.uid_slot.exchange(false)) return true;
        uid = c.peer.uid;
    }
    release_uid_slot(uid);
    return true;
}

// Publishes whether a connection is idle, after anything happened to it; a
// connection claimed to make room is closed here.
void EventLoop::settle(uint64_t id) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    Conn& c = *it->second;
    const bool mid_frame = !c.busy && (!c.in.empty() || c.out_off < c.out.size());
    if (!mid_frame) c.deadline = kNoDeadline;
    else if (c.deadline == kNoDeadline) c.deadline = Clock::now() + std::chrono::seconds(s_.opt->request_timeout_s);
    const int64_t want = !c.busy && c.in.empty() && c.out_off >= c.out.size() ? c.last.time_since_epoch().count() : 0;
    int64_t cur = c.idle_since.load();
    if (cur == want) return;
    if (cur == kClaimed || !c.idle_since.compare_exchange_strong(cur, want)) close_conn(id);
}

void EventLoop::close_conn(uint64_t id) {
    std::unique_ptr<Conn> closing;  // closed when it goes, outside the lock
    {
        std::lock_guard<std::mutex> lock(conns_mutex_);
        auto it = conns_.find(id);
        if (it == conns_.end()) return;
        closing = std::move(it->second);
        conns_.erase(it);
        const bool claimed = closing->idle_since.load() == kClaimed;
        if (claimed) s_.claimed--;
        s_.open--;
        if (!closing->privileged) {
            if (claimed) s_.claimed_unprivileged--;
            s_.open_unprivileged--;
        }
    }
    if (closing->uid_slot.exchange(false)) release_uid_slot(closing->peer.uid);
    // A worker's late answer for it is dropped in take_inbox.
}

void EventLoop::sweep_idle() {
    auto now = Clock::now();
    auto limit = std::chrono::seconds(s_.opt->idle_timeout_s);
    std::vector<uint64_t> idle, late;
    for (auto& [id, c] : conns_) {
        if (now >= c->deadline) late.push_back(id);
        else if (!c->busy && now - c->last > limit) idle.push_back(id);
    }
    for (uint64_t id : late) {
        const Conn& c = *conns_.at(id);
        log::say_for(c.peer.uid, LOG_NOTICE, "uid %u pid %d: %s not through within %d s (request_timeout): closing",
                     unsigned(c.peer.uid), int(c.peer.pid), c.out_off < c.out.size() ? "answer" : "request",
                     s_.opt->request_timeout_s);
        close_conn(id);
    }
    for (uint64_t id : idle) close_conn(id);
}

// --- one connection's traffic ------------------------------------------------------

// Who may use an op, decided before any queue or worker is involved (the
// handler decides the same way; for a caller refused here, it answers in the
// loop without the database or a hash).
bool EventLoop::may_use(const Conn& c, proto::Op op) const {
    // Authentication, and what only those who log users in may read
    // (account details, the counters).
    if (Handler::is_auth_op(op) || op == proto::Op::Account || op == proto::Op::Stats) return c.privileged;
    if (op == proto::Op::Flush || op == proto::Op::ThrottleList || op == proto::Op::ThrottleReset)
        return c.peer.uid == 0;
    if (op == proto::Op::AuthorizedKeys) return s_.handler->ssh_client(c.peer);
    return true;
}

void EventLoop::watch(Conn& c) {
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

void EventLoop::on_event(uint64_t id, uint32_t events) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    Conn& c = *it->second;
    if (events & (EPOLLERR | EPOLLHUP)) return close_conn(id);
    if (events & EPOLLOUT) return pump(c);
    if (events & (EPOLLIN | EPOLLRDHUP)) read_from(c);
}

void EventLoop::read_from(Conn& c) {
    const uint64_t id = c.id;
    char buf[kReadChunk];
    size_t used = 0;  // how much of buf may hold a password: wiped after
    bool failed = false;
    for (;;) {
        // Never hold more than one maximal frame plus a little.
        if (c.in.size() >= 4 + proto::kMaxRequest) break;
        ssize_t n = recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            c.in.append(buf, size_t(n));
            used = std::max(used, size_t(n));
            c.last = Clock::now();
            continue;
        }
        if (n == 0) {  // the client shut down its writing side: answer what is buffered
            c.eof = true;
            break;
        }
        if (errno == EINTR) continue;
        failed = errno != EAGAIN && errno != EWOULDBLOCK;
        break;
    }
    explicit_bzero(buf, used);
    if (failed) return close_conn(id);
    pump(c);
}

// Writes what is pending. True when all of it went out; false when the
// socket is full (the loop waits for EPOLLOUT) or the connection is closed.
bool EventLoop::flush(Conn& c) {
    while (c.out_off < c.out.size()) {
        ssize_t n = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c.out_off += size_t(n);
            c.last = Clock::now();
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            watch(c);
            return false;
        }
        close_conn(c.id);
        return false;
    }
    c.out.clear();
    c.out.shrink_to_fit();
    c.out_off = 0;
    return true;
}

// Moves a connection on as far as it can go now: writes the pending answer,
// then takes the next whole request, answering it from the cache or handing
// it to a worker. Pipelined requests are taken one after the other.
void EventLoop::pump(Conn& c) {
    const uint64_t id = c.id;
    for (;;) {
        if (c.busy) return watch(c);
        if (c.out_off < c.out.size() && !flush(c)) return;
        if (c.close_after) return close_conn(id);
        if (c.in.size() < 4) return c.eof ? close_conn(id) : watch(c);
        uint32_t len = proto::read_be32(reinterpret_cast<const uint8_t*>(c.in.data()));
        if (len > proto::kMaxRequest || len < proto::kHeaderSize) {
            log::say_for(c.peer.uid, LOG_NOTICE, "bad frame length %u from uid %u pid %d: closing", len,
                         unsigned(c.peer.uid), int(c.peer.pid));
            return close_conn(id);
        }
        if (c.in.size() < 4 + size_t(len)) return c.eof ? close_conn(id) : watch(c);
        auto frame = std::make_shared<std::string>(c.in, 4, len);
        explicit_bzero(c.in.data(), 4 + size_t(len));
        c.in.erase(0, 4 + size_t(len));
        c.deadline = kNoDeadline;  // a whole request: the next one has request_timeout of its own
        const auto op = static_cast<proto::Op>(static_cast<uint8_t>((*frame)[1]));
        const bool auth = Handler::is_auth_op(op);
        if (!may_use(c, op)) {
            // The handler's own refusal (Denied, or BadRequest for a bad
            // frame), answered here: no queue slot, no worker.
            log::Caller caller(c.peer.uid);
            Reply r = s_.handler->handle(*frame, c.peer);
            explicit_bzero(frame->data(), frame->size());
            c.out = std::move(r.frame);
            c.out_off = 0;
            c.close_after = r.close;
            continue;
        }
        if (!auth) {
            if (auto hit = s_.handler->cached(*frame, c.peer)) {
                c.out = std::move(hit->frame);
                c.out_off = 0;
                c.close_after = hit->close;
                continue;
            }
        }
        c.busy = true;
        EventLoop* self = this;
        Handler* handler = s_.handler;
        if (!c.gone) c.gone = std::make_shared<std::atomic<bool>>(false);
        auto job = [self, handler, id, op, who = c.peer, privileged = c.privileged, frame, gone = c.gone](bool run) {
            if (gone->load()) {  // nobody to answer
                explicit_bzero(frame->data(), frame->size());
                return;
            }
            if (!run) {  // pushed out of the queue by another caller's request
                explicit_bzero(frame->data(), frame->size());
                self->complete(id, too_busy(op, who.uid));
                return;
            }
            // What root and the auth clients cause is the host's audit trail
            // (each failed login through sshd, su or Apache): never held back.
            // Its volume is bounded by their hashing; other uids' is limited.
            std::optional<log::Caller> caller;
            if (!privileged) caller.emplace(who.uid);
            Reply r = handler->handle(*frame, who);
            explicit_bzero(frame->data(), frame->size());
            self->complete(id, std::move(r));
        };
        WorkerPool& pool = auth ? *s_.auths : *s_.lookups;
        if (pool.submit(c.peer.uid, std::move(job))) continue;  // busy: watch nothing until the answer
        explicit_bzero(frame->data(), frame->size());
        c.busy = false;
        c.out = std::move(too_busy(op, c.peer.uid).frame);
        c.out_off = 0;
    }
}

void EventLoop::take_inbox() {
    std::vector<Done> done;
    {
        std::lock_guard<std::mutex> lock(inbox_mutex_);
        done.swap(inbox_);
    }
    for (auto& d : done) {
        auto it = conns_.find(d.id);
        if (it == conns_.end()) continue;  // the client went away meanwhile
        Conn& c = *it->second;
        if (!d.evict) {
            c.busy = false;
            c.out = std::move(d.reply.frame);
            c.out_off = 0;
            c.close_after = d.reply.close;
            pump(c);
        }
        settle(d.id);  // closes a connection claimed to make room
    }
}

}  // namespace dj
