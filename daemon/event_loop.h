// One event-loop thread of the server. Every loop watches the shared
// listening socket (EPOLLEXCLUSIVE: a new connection wakes one loop, usually
// an idle one) and owns the connections it accepted: it alone reads, writes
// and closes them, so the common path takes no lock and wakes no other
// thread. A lookup the cache can answer is answered in the loop; any other
// request goes to a worker pool, whose answer comes back through this loop's
// inbox and eventfd.
//
// max_connections holds across loops: at the limit, the loop that accepts
// claims the connection idle the longest in any loop (an atomic per
// connection, see Conn::idle_since) and asks its owner to close it.
//
// Every local user may connect, so every local user is a possible attacker:
// - each unprivileged uid may hold max_connections_per_uid connections; past
//   that its new ones are closed at once, nobody else's;
// - unprivileged connections together may hold all but an eighth of
//   max_connections: root and auth_clients always find room. At that bound
//   an idle unprivileged connection makes room for an unprivileged newcomer,
//   or else the oldest connection of the uid holding the most, if it holds
//   more than the newcomer's uid: the uids end up with equal shares;
// - a request must arrive whole within request_timeout of its first byte,
//   and an answer be taken whole within request_timeout: a connection that
//   drips bytes is closed, it does not count as busy forever;
// - a caller that may not use an op (Authenticate, ChangePassword: root and
//   auth_clients; Flush and the throttle ops: root) is answered by the
//   handler in the loop, Denied, without taking a queue slot or a worker;
// - the worker queues are shared fairly between uids (daemon/workers.h).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "daemon/handlers.h"
#include "daemon/workers.h"

namespace dj {

struct ServerOptions;
class EventLoop;
class SharedCacheWriter;

struct UidCount {
    int held = 0;
    int pending = 0;
};

// What the loops of one server share; it owns them. Counters are atomics;
// `loops` is filled before any loop runs and not changed while they do.
struct LoopShared {
    int listen_fd = -1;
    Handler* handler = nullptr;
    const ServerOptions* opt = nullptr;
    WorkerPool* lookups = nullptr;
    WorkerPool* auths = nullptr;
    std::vector<std::unique_ptr<EventLoop>> loops;
    std::atomic<uint64_t> next_id{16};
    std::atomic<long> open{0};        // connections open, in all loops
    std::atomic<long> claimed{0};     // of which chosen to make room, not closed yet
    std::atomic<long> open_unprivileged{0}, claimed_unprivileged{0};  // the same, of unprivileged callers
    std::atomic<uint64_t> refused{0}, evicted{0}, accept_failed{0};
    // Unprivileged connections by uid: held, and being admitted (no entry
    // at 0, 0).
    std::mutex per_uid_mutex;
    std::unordered_map<uint32_t, UidCount> per_uid;
    // The shared cache file whose heartbeat the loops stamp (nullptr: none).
    SharedCacheWriter* shared_cache = nullptr;
    std::atomic<bool> stopping{false};
    std::atomic<bool> failed{false};  // a loop stopped on an error
};

class EventLoop {
public:
    explicit EventLoop(LoopShared& shared);
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    // Creates the epoll set and eventfd and watches the listening socket;
    // false (logged) on failure.
    bool init();
    // Runs until LoopShared::stopping is set. `extra_fd` (or -1) is watched
    // too: `on_extra` runs when it is readable.
    void run(int extra_fd = -1, const std::function<void()>& on_extra = {});
    // Runs run() on a thread of its own (named `name`).
    void start_thread(const char* name);
    void join();

    // From any thread: a worker's answer for connection `id`.
    void complete(uint64_t id, Reply reply);
    // From any thread: wakes the loop (to notice `stopping`).
    void wake();

    // From another loop, at a connection limit: this loop's candidate to
    // make room (the connection idle the longest, or the oldest of a uid),
    // and its claim if chosen.
    struct Victim {
        uint64_t id = 0;
        int64_t since = 0;  // its idle_since when seen (the claim expects it)
        int64_t rank = 0;   // the lowest goes first; 0: none
    };
    Victim longest_idle(bool unprivileged_only);
    Victim oldest_of(uint32_t uid);
    bool claim(uint64_t id, int64_t since);

private:
    struct Conn;
    struct Done {
        uint64_t id;
        Reply reply;
        bool evict;  // close the connection (it was claimed to make room)
    };
    void accept_all();
    bool admit(Conn& c);
    bool has_room(uint32_t uid, bool unprivileged);
    bool take_uid_slot(uint32_t uid);
    void end_uid_slot(uint32_t uid, bool admitted);
    void release_uid_slot(uint32_t uid);
    bool make_room(const std::function<Victim(EventLoop&)>& find);
    bool take_from_fullest_uid(uint32_t uid);
    void pause_accepting();
    void resume_accepting();
    bool may_use(const Conn& c, proto::Op op) const;
    void on_event(uint64_t id, uint32_t events);
    void read_from(Conn& c);
    void pump(Conn& c);
    bool flush(Conn& c);
    void take_inbox();
    void sweep_idle();
    void close_conn(uint64_t id);
    void watch(Conn& c);
    void settle(uint64_t id);
    void post(Done d);

    LoopShared& s_;
    int epoll_fd_ = -1;
    int event_fd_ = -1;
    std::thread thread_;
    // Out of file descriptors: the listening socket is not watched until then.
    bool accept_paused_ = false;
    std::chrono::steady_clock::time_point accept_resume_;
    // Changed by this loop only, under conns_mutex_; read by it without the
    // lock, by other loops (longest_idle, claim) with it.
    std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
    std::mutex conns_mutex_;

    std::mutex inbox_mutex_;
    std::vector<Done> inbox_;
};

}  // namespace dj
