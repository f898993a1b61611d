// The lookup cache: encoded response frames keyed by request (op + body),
// with separate lifetimes for answers found and not found. Bounded in entries
// and bytes; the least recently used entry goes first. Password checks are
// never cached. Thread-safe; no lock is held while anything else happens.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace dj {

class SharedCacheWriter;

class Cache {
public:
    using Clock = std::chrono::steady_clock;

    Cache(std::chrono::seconds positive_ttl, std::chrono::seconds negative_ttl, size_t max_entries,
          size_t max_bytes);

    // `count_miss`: false for a look that is followed by get() on a miss.
    std::optional<std::vector<uint8_t>> get(const std::string& key, Clock::time_point now = Clock::now(),
                                            bool count_miss = true);
    using Tags = std::vector<std::string>;
    // `found`: a positive answer (positive lifetime) or a negative one.
    // `read_at`: generation() taken before the answer was read from the
    // database; when a flush or drop came since, the answer may predate the
    // change that caused it and is not kept. `tags`: what the answer was
    // read from (daemon/cache_tags.h), for drop().
    void put(const std::string& key, const std::vector<uint8_t>& value, bool found,
             Clock::time_point now = Clock::now(), std::optional<uint64_t> read_at = std::nullopt,
             const Tags& tags = {});
    void flush();
    // Drops every entry carrying one of `tags`, and its copy in the shared
    // file. Returns how many entries went.
    size_t drop(const Tags& tags);
    // Bumped by every flush and drop.
    uint64_t generation() const;
    // Also publish by-key answers to the shared cache file, and flush it with the
    // cache (nullptr: stop). Not owned; must outlive the cache's use.
    void share(SharedCacheWriter* shared) { shared_.store(shared); }

    struct Stats {
        uint64_t hits = 0, misses = 0, entries = 0, bytes = 0, evictions = 0;
    };
    Stats stats() const;

private:
    struct Entry {
        std::string key;
        std::vector<uint8_t> value;
        Clock::time_point expires;
        Tags tags;
        size_t size() const;  // what the entry counts against max_bytes
    };
    // Removes the entry from the cache, its tags from the index and (when
    // `unshare`) its copy from the shared file.
    void erase(std::list<Entry>::iterator it, SharedCacheWriter* unshare);

    std::chrono::seconds positive_ttl_, negative_ttl_;
    size_t max_entries_, max_bytes_;
    mutable std::mutex mutex_;
    std::list<Entry> lru_;  // front: most recently used
    std::unordered_map<std::string, std::list<Entry>::iterator> index_;
    std::unordered_map<std::string, std::unordered_set<std::string>> by_tag_;  // tag -> keys
    size_t bytes_ = 0;
    uint64_t generation_ = 0;
    uint64_t hits_ = 0, misses_ = 0, evictions_ = 0;
    std::atomic<SharedCacheWriter*> shared_{nullptr};
};

}  // namespace dj
