#include "daemon/server.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/log.h"

namespace dj {

Server::Server(int listen_fd, Handler& handler, ServerOptions opt) : opt_(opt) {
    shared_.listen_fd = listen_fd;
    shared_.handler = &handler;
    shared_.opt = &opt_;
}

Server::~Server() {
    stop();
    // Workers first: a job that is running posts its answer to a loop.
    if (lookups_) lookups_->stop();
    if (auths_) auths_->stop();
    shared_.loops.clear();
    if (signal_fd_ >= 0) close(signal_fd_);
}

void Server::stop() {
    shared_.stopping.store(true, std::memory_order_release);
    for (auto& loop : shared_.loops) loop->wake();
    for (auto& loop : shared_.loops) loop->join();
}

int Server::run(Cache& cache, SharedCacheWriter* shared_cache) {
    shared_.shared_cache = shared_cache;
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    signal_fd_ = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signal_fd_ < 0) {
        log::say(LOG_ERR, "cannot set up the event loop: %s", strerror(errno));
        return 1;
    }
    const int n = opt_.event_threads < 1 ? 1 : opt_.event_threads;
    for (int i = 0; i < n; ++i) {
        shared_.loops.push_back(std::make_unique<EventLoop>(shared_));
        if (!shared_.loops.back()->init()) return 1;
    }
    lookups_ = std::make_unique<WorkerPool>("lookup", opt_.lookup_threads, opt_.max_pending_lookups);
    auths_ = std::make_unique<WorkerPool>("auth", opt_.auth_threads, opt_.max_pending_auth, /*background=*/true);
    shared_.lookups = lookups_.get();
    shared_.auths = auths_.get();
    for (int i = 1; i < n; ++i) shared_.loops[size_t(i)]->start_thread("authd-loop");
    log::say(LOG_INFO, "ready: %d event loops, %zu lookup and %zu authentication workers", n, lookups_->threads(),
             auths_->threads());

    auto on_signal = [this, &cache] {
        signalfd_siginfo si;
        while (read(signal_fd_, &si, sizeof si) == sizeof si) {
            if (si.ssi_signo == SIGHUP) {
                cache.flush();
                // The stored hashes are read again off the loop (main.cc's watcher).
                shared_.handler->want_site_params();
                log::say(LOG_INFO, "SIGHUP: cache flushed");
            } else {
                log::say(LOG_INFO, "signal %u: shutting down", si.ssi_signo);
                shared_.stopping.store(true, std::memory_order_release);
                return;
            }
        }
    };
    shared_.loops[0]->run(signal_fd_, on_signal);
    stop();
    return shared_.failed.load() ? 1 : 0;
}

}  // namespace dj
