#include "daemon/workers.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <exception>

#include "daemon/log.h"

namespace dj {

WorkerPool::WorkerPool(std::string name, int threads, size_t max_queue, bool background)
    : name_(std::move(name)), max_queue_(max_queue), background_(background) {
    if (threads < 1) threads = 1;
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { loop(); });
}

WorkerPool::~WorkerPool() { stop(); }

bool WorkerPool::submit(std::function<void()> job) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_ || queue_.size() >= max_queue_) return false;
        queue_.push_back(std::move(job));
    }
    cv_.notify_one();
    return true;
}

void WorkerPool::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_ && threads_.empty()) return;
        stopping_ = true;
        queue_.clear();
    }
    cv_.notify_all();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
}

void WorkerPool::loop() {
    // Hashing a password takes tens of milliseconds of CPU, a lookup a few
    // microseconds. While hash threads of the same priority keep the cores
    // busy, the event loop or a lookup worker that wakes waits its turn for
    // one, up to a scheduler tick (4 ms at HZ=250). A lower priority for the
    // hash threads shortens that wait, at the cost of the logins' share of
    // the cores while lookups saturate them (idle cycles all go to logins
    // still). Measured on one core, one thread of each, lookup p99 beside
    // logins / logins a second beside a flood of lookups: nice 0: 3.5 ms /
    // 19; nice 5: 2.5 ms / 12; nice 19: 1.2 ms / 0 to 3 (SCHED_IDLE: no
    // better). Nice 5, so that a flood of lookups cannot stop logins. On
    // Linux the nice value is per thread: this one only, and relative to
    // the daemon's own. Raising one's own nice value needs no privilege; if
    // refused, nothing changes.
    if (background_) {
        const id_t tid = static_cast<id_t>(gettid());
        errno = 0;
        const int base = getpriority(PRIO_PROCESS, tid);
        if (errno == 0) (void)setpriority(PRIO_PROCESS, tid, std::min(base + kBackgroundNice, 19));
    }
    for (;;) {
        std::function<void()> job;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) return;
            job = std::move(queue_.front());
            queue_.pop_front();
        }
        try {
            job();
        } catch (const std::exception& e) {
            log::say(LOG_ERR, "%s worker: unexpected error: %s", name_.c_str(), e.what());
        } catch (...) {
            log::say(LOG_ERR, "%s worker: unexpected error", name_.c_str());
        }
    }
}

}  // namespace dj
