// The event loop: one thread owns the listening socket and every client
// connection (epoll, non-blocking), reads whole request frames, hands them to
// a worker pool and writes the responses back. Idle and half-open
// connections cost a few hundred bytes, never a thread. Bounded: number of
// connections, request size, queued authentications.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/handlers.h"
#include "daemon/workers.h"

namespace dj {

struct ServerOptions {
    int max_connections = 1024;
    int idle_timeout_s = 60;
    int lookup_threads = 4;
    int auth_threads = 2;
    size_t max_pending_auth = 256;
    size_t max_pending_lookups = 4096;
};

class Server {
public:
    // `listen_fd`: a listening SOCK_STREAM Unix socket (ours or systemd's).
    Server(int listen_fd, Handler& handler, ServerOptions opt);
    ~Server();

    // Runs until SIGTERM or SIGINT (which the caller has blocked in every
    // thread); SIGHUP flushes the cache. Returns 0, or 1 on a fatal error.
    int run(Cache& cache);

private:
    struct Conn;
    void accept_all();
    void on_event(uint64_t id, uint32_t events);
    void read_from(Conn& c);
    void dispatch(Conn& c);
    void write_to(Conn& c);
    void finish_completions();
    void sweep_idle();
    void close_conn(uint64_t id);
    void watch(Conn& c);

    int listen_fd_;
    int epoll_fd_ = -1;
    int event_fd_ = -1;
    int signal_fd_ = -1;
    Handler& handler_;
    ServerOptions opt_;
    std::unique_ptr<WorkerPool> lookups_, auths_;
    std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
    uint64_t next_id_ = 16;

    std::mutex done_mutex_;
    std::vector<std::pair<uint64_t, Reply>> done_;
    uint64_t refused_ = 0;
    uint64_t evicted_ = 0;   // idle connections closed to make room
};

}  // namespace dj
