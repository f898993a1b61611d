// A fixed pool of worker threads with a bounded queue. django-authd runs two:
// one for lookups and one for password hashing, so a lookup never waits
// behind a hash in a queue, and less for a core (the hashing pool runs at a
// lower CPU priority, see WorkerPool::loop).
//
// The queue is shared fairly between callers: jobs wait in one queue per key
// (the caller's uid), and the workers take the keys in turn, one job each. At
// the bound, a newcomer whose key holds fewer jobs than the fullest key's
// pushes that key's newest job out (it is refused, and told so), so a flood
// from one uid fills only its own share: every other caller still gets in,
// and waits for at most one job of each other key before its own.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace dj {

// How much nicer than the daemon a background pool's threads run (why 5:
// WorkerPool::loop).
inline constexpr int kBackgroundNice = 5;

class WorkerPool {
public:
    // Called with true on a worker thread, or with false when the job was
    // pushed out of the queue to make room for another caller's (on the
    // thread that submitted that one, holding no lock): it must then only
    // answer "too busy". Jobs must not throw (an escaping exception is caught
    // and logged).
    using Job = std::function<void(bool run)>;

    // `background`: the threads run at a lower CPU priority
    // (kBackgroundNice), see loop().
    WorkerPool(std::string name, int threads, size_t max_queue, bool background = false);
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    // Queues a job for `key`; false when the queue is full and `key` already
    // holds its share (see above), or the pool stopped.
    bool submit(uint32_t key, Job job);
    // Finishes running jobs, drops queued ones, joins the threads.
    void stop();
    size_t threads() const { return threads_.size(); }
    // Jobs queued (not running), for tests.
    size_t queued();

private:
    void loop();

    std::string name_;
    size_t max_queue_;
    bool background_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::unordered_map<uint32_t, std::deque<Job>> queues_;  // by key; no empty deque kept
    std::deque<uint32_t> turn_;                             // keys with jobs, next served first
    size_t queued_ = 0;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace dj
