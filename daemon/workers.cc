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

bool WorkerPool::submit(uint32_t key, Job job) {
    Job pushed_out;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) return false;
        auto mine = queues_.find(key);
        const size_t have = mine == queues_.end() ? 0 : mine->second.size();
        if (queued_ >= max_queue_) {
            // Full: the key holding the most jobs gives up its newest, if it
            // holds more than this key would with the new one.
            auto fullest = queues_.end();
            for (auto it = queues_.begin(); it != queues_.end(); ++it)
                if (fullest == queues_.end() || it->second.size() > fullest->second.size()) fullest = it;
            if (fullest == queues_.end() || fullest->second.size() <= have + 1) return false;
            pushed_out = std::move(fullest->second.back());
            fullest->second.pop_back();  // never empties it: it held at least two
            queued_--;
        }
        auto& q = queues_[key];
        if (q.empty()) turn_.push_back(key);
        q.push_back(std::move(job));
        queued_++;
    }
    cv_.notify_one();
    if (pushed_out) {
        try {
            pushed_out(false);
        } catch (...) {
            log::say(LOG_ERR, "%s pool: a refused job failed to answer", name_.c_str());
        }
    }
    return true;
}

size_t WorkerPool::queued() {
    std::lock_guard<std::mutex> lock(mutex_);
    return queued_;
}

void WorkerPool::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_ && threads_.empty()) return;
        stopping_ = true;
        queues_.clear();
        turn_.clear();
        queued_ = 0;
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
        Job job;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            cv_.wait(lock, [this] { return stopping_ || queued_ > 0; });
            if (stopping_) return;
            // The key whose turn it is: one job, then to the back of the line.
            const uint32_t key = turn_.front();
            turn_.pop_front();
            auto it = queues_.find(key);
            job = std::move(it->second.front());
            it->second.pop_front();
            queued_--;
            if (it->second.empty()) queues_.erase(it);
            else turn_.push_back(key);
        }
        try {
            job(true);
        } catch (const std::exception& e) {
            log::say(LOG_ERR, "%s worker: unexpected error: %s", name_.c_str(), e.what());
        } catch (...) {
            log::say(LOG_ERR, "%s worker: unexpected error", name_.c_str());
        }
    }
}

}  // namespace dj
