#include "daemon/workers.h"

#include <exception>

#include "daemon/log.h"

namespace dj {

WorkerPool::WorkerPool(std::string name, int threads, size_t max_queue)
    : name_(std::move(name)), max_queue_(max_queue) {
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
