// A fixed pool of worker threads with a bounded queue. django-authd runs two:
// one for lookups and one for password hashing, so a lookup never waits
// behind a hash in a queue, and less for a core (the hashing pool runs at a
// lower CPU priority, see WorkerPool::loop).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dj {

// How much nicer than the daemon a background pool's threads run (why 5:
// WorkerPool::loop).
inline constexpr int kBackgroundNice = 5;

class WorkerPool {
public:
    // `background`: the threads run at a lower CPU priority
    // (kBackgroundNice), see loop().
    WorkerPool(std::string name, int threads, size_t max_queue, bool background = false);
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    // Queues a job; false when the queue is full or the pool stopped. Jobs
    // must not throw (an escaping exception is caught and logged).
    bool submit(std::function<void()> job);
    // Finishes running jobs, drops queued ones, joins the threads.
    void stop();
    size_t threads() const { return threads_.size(); }

private:
    void loop();

    std::string name_;
    size_t max_queue_;
    bool background_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> queue_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace dj
