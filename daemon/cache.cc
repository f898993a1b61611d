#include "daemon/cache.h"

#include "daemon/shared_cache_writer.h"

namespace dj {
namespace {

int64_t mono_ns(Cache::Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

Cache::Cache(std::chrono::seconds positive_ttl, std::chrono::seconds negative_ttl, size_t max_entries,
             size_t max_bytes)
    : positive_ttl_(positive_ttl), negative_ttl_(negative_ttl), max_entries_(max_entries), max_bytes_(max_bytes) {}

void Cache::erase(std::list<Entry>::iterator it) {
    bytes_ -= it->key.size() + it->value.size();
    index_.erase(it->key);
    lru_.erase(it);
}

std::optional<std::vector<uint8_t>> Cache::get(const std::string& key, Clock::time_point now, bool count_miss) {
    std::optional<std::vector<uint8_t>> value;
    Clock::time_point expires;
    uint64_t shared_gen = 0;
    SharedCacheWriter* sh = shared_.load();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = index_.find(key);
        if (it == index_.end()) {
            if (count_miss) ++misses_;
            return std::nullopt;
        }
        if (it->second->expires <= now) {
            // Kept for get_stale(); put() replaces it with a fresh answer.
            if (count_miss) ++misses_;
            return std::nullopt;
        }
        lru_.splice(lru_.begin(), lru_, it->second);
        ++hits_;
        value = it->second->value;
        expires = it->second->expires;
        if (sh) shared_gen = sh->generation();
    }
    // Asked over the socket although cached: the shared copy was lost (slot
    // taken by another key, or a new file). Publish it again, unless a flush
    // came meanwhile (the file's generation moved).
    if (sh) sh->put(key, *value, mono_ns(expires), shared_gen);
    return value;
}

std::optional<std::vector<uint8_t>> Cache::get_stale(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->value;
}

void Cache::put(const std::string& key, const std::vector<uint8_t>& value, bool found, Clock::time_point now,
                std::optional<uint64_t> read_at) {
    auto ttl = found ? positive_ttl_ : negative_ttl_;
    size_t size = key.size() + value.size();
    if (ttl.count() <= 0 || max_entries_ == 0 || size > max_bytes_) return;
    uint64_t shared_gen = 0;
    SharedCacheWriter* sh = shared_.load();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (read_at && *read_at != generation_) return;
        if (sh) shared_gen = sh->generation();
        auto it = index_.find(key);
        if (it != index_.end()) erase(it->second);
        while (!lru_.empty() && (index_.size() >= max_entries_ || bytes_ + size > max_bytes_)) {
            erase(std::prev(lru_.end()));
            ++evictions_;
        }
        lru_.push_front(Entry{key, value, now + ttl});
        index_.emplace(key, lru_.begin());
        bytes_ += size;
    }
    if (sh) sh->put(key, value, mono_ns(now + ttl), shared_gen);
}

void Cache::flush() {
    // The shared cache file is flushed under the lock too: a put or get that
    // took its generation before cannot publish into it afterwards.
    std::lock_guard<std::mutex> lock(mutex_);
    lru_.clear();
    index_.clear();
    bytes_ = 0;
    ++generation_;
    if (SharedCacheWriter* sh = shared_.load()) sh->flush();
}

void Cache::expire_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& e : lru_) e.expires = Clock::time_point::min();
    ++generation_;
    if (SharedCacheWriter* sh = shared_.load()) sh->flush();
}

uint64_t Cache::generation() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return generation_;
}

Cache::Stats Cache::stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return Stats{hits_, misses_, index_.size(), bytes_, evictions_};
}

}  // namespace dj
