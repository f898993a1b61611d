// The server: the worker pools and the event loops (daemon/event_loop.h)
// that share the listening socket. Each loop thread owns the connections it
// accepted (epoll, non-blocking), reads whole request frames, answers cached
// lookups itself and hands other requests to a worker pool. Idle and
// half-open connections cost a few hundred bytes, never a thread. Bounded:
// number of connections (in all, and per unprivileged uid, with room kept
// for root and auth_clients), the time a request may take to arrive, request
// size, queued requests (shared fairly between uids).
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "daemon/event_loop.h"
#include "daemon/handlers.h"
#include "daemon/workers.h"

namespace dj {

struct ServerOptions {
    int max_connections = 1024;
    int idle_timeout_s = 60;
    int request_timeout_s = 5;   // a frame crosses whole within it, from its first byte
    int max_per_uid = 128;       // connections of one unprivileged uid
    // Root and auth_clients: no per-uid cap, an eighth of max_connections
    // kept for them, and the only callers of Authenticate and ChangePassword.
    AuthClients privileged;
    int event_threads = 1;
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
    // thread); SIGHUP flushes the cache. The first event loop runs on the
    // calling thread and also takes the signals. Returns 0, or 1 on a fatal
    // error. `shared_cache` (or nullptr): the shared cache file whose
    // heartbeat the event loops stamp.
    int run(Cache& cache, SharedCacheWriter* shared_cache = nullptr);

private:
    void stop();

    ServerOptions opt_;
    LoopShared shared_;  // holds the event loops
    std::unique_ptr<WorkerPool> lookups_, auths_;
    int signal_fd_ = -1;
};

}  // namespace dj
