// A fixed pool of worker threads with a bounded queue. django-authd runs two:
// one for lookups and one for password hashing, so a lookup never waits
// behind a hash.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dj {

class WorkerPool {
public:
    WorkerPool(std::string name, int threads, size_t max_queue);
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
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> queue_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace dj
