// The writer side of the shared lookup cache (common/shared_cache.h describes
// the file): django-authd publishes the by-key lookup answers it caches into
// <socket dir>/cache, so that clients answer warm lookups from a read-only
// mapping without a socket round trip.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/shared_cache.h"

namespace dj {

class SharedCacheWriter {
public:
    // Creates a fresh file beside `path` and renames it over `path` (an
    // existing file of ours there is marked retired first, so readers of a
    // previous daemon's file drop it). nullptr and `error` on failure.
    // The daemon's mapping of it is read-only but while a record is written
    // or wiped (the pages concerned only, under the mutex), and is left out
    // of core dumps.
    static std::unique_ptr<SharedCacheWriter> create(const std::string& path, uint32_t slot_size, uint32_t slot_count,
                                               std::string& error);
    ~SharedCacheWriter();  // retires the file (see retire())
    SharedCacheWriter(const SharedCacheWriter&) = delete;
    SharedCacheWriter& operator=(const SharedCacheWriter&) = delete;

    // Publishes the response for `key` (a request frame without its length):
    // `frame` is the finished response frame as the daemon sends it (with its
    // length), valid until `expires_ns` (CLOCK_MONOTONIC). Only by-key
    // lookups are published, and only when they fit a slot. `generation`
    // (from generation(), 0: any): nothing is written when a flush came
    // since it was taken.
    void put(std::string_view key, const std::vector<uint8_t>& frame, int64_t expires_ns,
             uint64_t generation = 0);
    // Every record published so far becomes stale at once and is zeroed.
    void flush();
    // The record for `key`, if the file holds it, is zeroed (push
    // invalidation of one answer).
    void erase(std::string_view key);
    // Bumped by every flush and erase (0 once retired): a put that took it
    // before writes nothing, so that an answer read before a change is not
    // published after the change dropped it.
    uint64_t generation();
    // The heartbeat (common/shared_cache.h): stamps the header with the time now
    // (monotonic `now_ns`) unless it was stamped less than half an interval
    // ago. Called by every event loop at least once per interval, and by
    // nothing else: only a daemon whose loops run keeps it fresh. Cheap when
    // not due (no lock).
    void beat(int64_t now_ns);
    // Readers drop the file; its records are zeroed and the mapping goes;
    // later puts are ignored.
    void retire();
    // Removes the file (after retire()).
    void unlink_file();

    const std::string& path() const { return path_; }

private:
    SharedCacheWriter() = default;
    void wipe_locked();  // the caller holds mutex_
    // The slot holding `key` (hash `h`) among its two candidates, or nullptr.
    uint8_t* find_locked(std::string_view key, uint64_t h);
    // Zeroes one slot under its seqlock.
    void zero_slot_locked(uint8_t* slot);
    std::string path_;
    uint8_t* base_ = nullptr;
    size_t size_ = 0;
    uint32_t slot_size_ = 0, slot_count_ = 0;
    std::mutex mutex_;
    bool retired_ = false;
    uint64_t epoch_ = 1;  // see generation()
    std::atomic<int64_t> last_beat_{0};  // monotonic ns of the last stamp
    int lock_fd_ = -1;   // holds the file's exclusive flock while we live
};

}  // namespace dj
