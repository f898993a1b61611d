// The idle connections of a client-server engine (PostgreSQL, MySQL): at most
// `max` kept for reuse, taken and given back under a lock, closed with
// `close` when the pool is full or goes away. Thread-safe.
#pragma once

#include <cstddef>
#include <mutex>
#include <vector>

namespace dj::db {

template <class C, void (*Close)(C*)>
class IdlePool {
public:
    explicit IdlePool(size_t max) : max_(max > 0 ? max : 1) {}
    ~IdlePool() {
        for (C* c : idle_) Close(c);
    }
    IdlePool(const IdlePool&) = delete;
    IdlePool& operator=(const IdlePool&) = delete;

    // An idle connection (the most recently used), or nullptr.
    C* take() {
        std::lock_guard<std::mutex> lock(mutex_);
        if (idle_.empty()) return nullptr;
        C* c = idle_.back();
        idle_.pop_back();
        return c;
    }
    // Keeps `c` for reuse, or closes it when enough are kept.
    void put(C* c) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (idle_.size() < max_) {
                idle_.push_back(c);
                return;
            }
        }
        Close(c);
    }

private:
    size_t max_;
    std::mutex mutex_;
    std::vector<C*> idle_;
};

}  // namespace dj::db
