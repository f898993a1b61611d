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

size_t Cache::Entry::size() const {
    size_t n = key.size() + value.size();
    for (const auto& t : tags) n += t.size();
    return n;
}

void Cache::erase(std::list<Entry>::iterator it, SharedCacheWriter* unshare) {
    bytes_ -= it->size();
    for (const auto& t : it->tags) {
        auto keys = by_tag_.find(t);
        if (keys == by_tag_.end()) continue;
        keys->second.erase(it->key);
        if (keys->second.empty()) by_tag_.erase(keys);
    }
    if (unshare) unshare->erase(it->key);
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
            erase(it->second, nullptr);  // the shared copy expired with it
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

void Cache::put(const std::string& key, const std::vector<uint8_t>& value, bool found, Clock::time_point now,
                std::optional<uint64_t> read_at, const Tags& tags) {
    auto ttl = found ? positive_ttl_ : negative_ttl_;
    Entry entry{key, value, now + ttl, tags};
    const size_t size = entry.size();
    if (ttl.count() <= 0 || max_entries_ == 0 || size > max_bytes_) return;
    uint64_t shared_gen = 0;
    SharedCacheWriter* sh = shared_.load();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (read_at && *read_at != generation_) return;
        // The shared file never holds an answer the cache does not (drop()
        // reaches it only through the cache): what leaves goes from both.
        auto it = index_.find(key);
        if (it != index_.end()) erase(it->second, sh);
        while (!lru_.empty() && (index_.size() >= max_entries_ || bytes_ + size > max_bytes_)) {
            erase(std::prev(lru_.end()), sh);
            ++evictions_;
        }
        if (sh) shared_gen = sh->generation();
        lru_.push_front(std::move(entry));
        index_.emplace(key, lru_.begin());
        for (const auto& t : tags) by_tag_[t].insert(key);
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
    by_tag_.clear();
    bytes_ = 0;
    ++generation_;
    if (SharedCacheWriter* sh = shared_.load()) sh->flush();
}

size_t Cache::drop(const Tags& tags) {
    std::lock_guard<std::mutex> lock(mutex_);
    SharedCacheWriter* sh = shared_.load();
    // Answers being read from the database now may predate the change: they
    // are not kept (put's read_at), whether or not anything is dropped here.
    ++generation_;
    size_t dropped = 0;
    for (const auto& t : tags) {
        auto keys = by_tag_.find(t);
        if (keys == by_tag_.end()) continue;
        // erase() edits the set being walked: take the keys first.
        std::vector<std::string> victims(keys->second.begin(), keys->second.end());
        for (const auto& k : victims) {
            auto it = index_.find(k);
            if (it == index_.end()) continue;
            erase(it->second, sh);
            ++dropped;
        }
    }
    // (A get() or put() that took the shared file's generation before a key
    // of it was erased here publishes nothing: erase() moved it.)
    return dropped;
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
