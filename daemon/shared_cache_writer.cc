#include "daemon/shared_cache_writer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/protocol.h"

namespace dj {
namespace {

shared_cache::Header* header_of(uint8_t* base) { return reinterpret_cast<shared_cache::Header*>(base); }

// Marks a file of ours at `path` retired so that its readers let it go.
void retire_existing(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= off_t(sizeof(shared_cache::Header))) {
        void* p = ::mmap(nullptr, sizeof(shared_cache::Header), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED) {
            auto* h = static_cast<shared_cache::Header*>(p);
            if (h->magic == shared_cache::kMagic) __atomic_store_n(&h->retired, 1u, __ATOMIC_RELEASE);
            ::munmap(p, sizeof(shared_cache::Header));
        }
    }
    ::close(fd);
}

// Makes the pages holding [p, p + n) of the mapping writable while it lives:
// the rest of the time the daemon's own view of the file is read-only too,
// so no stray write anywhere in the daemon can reach what every process
// reads. The caller holds the writer's mutex.
class WriteWindow {
public:
    WriteWindow(uint8_t* base, size_t size, uint8_t* p, size_t n) {
        static const size_t page = size_t(::sysconf(_SC_PAGESIZE));
        const size_t from = size_t(p - base) / page * page;
        const size_t to = std::min(size, (size_t(p - base) + n + page - 1) / page * page);
        start_ = base + from;
        len_ = to - from;
        ok_ = ::mprotect(start_, len_, PROT_READ | PROT_WRITE) == 0;
    }
    ~WriteWindow() {
        if (ok_) (void)::mprotect(start_, len_, PROT_READ);
    }
    WriteWindow(const WriteWindow&) = delete;
    WriteWindow& operator=(const WriteWindow&) = delete;
    bool ok() const { return ok_; }

private:
    uint8_t* start_ = nullptr;
    size_t len_ = 0;
    bool ok_ = false;
};

bool shared_op(std::string_view key) {
    if (key.size() < proto::kHeaderSize) return false;
    switch (static_cast<proto::Op>(static_cast<uint8_t>(key[1]))) {
        case proto::Op::PwByName:
        case proto::Op::PwByUid:
        case proto::Op::GrByName:
        case proto::Op::GrByGid:
        case proto::Op::GroupsOfUser: return true;
        default: return false;
    }
}

// Whether the record in `slot` is the one for `key` (hash `h`).
bool slot_holds(const uint8_t* slot, std::string_view key, uint64_t h) {
    const auto* s = reinterpret_cast<const shared_cache::SlotHead*>(slot);
    return s->key_hash == h && s->key_len == key.size() && s->len >= key.size() &&
           std::memcmp(slot + sizeof(shared_cache::SlotHead), key.data(), key.size()) == 0;
}

}  // namespace

std::unique_ptr<SharedCacheWriter> SharedCacheWriter::create(const std::string& path, uint32_t slot_size, uint32_t slot_count,
                                                 std::string& error) {
    if (slot_size < sizeof(shared_cache::SlotHead) + 64 || slot_size % 64 != 0 || slot_size > shared_cache::kMaxSlotSize ||
        slot_count == 0 || slot_count > shared_cache::kMaxSlotCount || (slot_count & (slot_count - 1)) != 0) {
        error = "shared cache: bad slot geometry";
        return nullptr;
    }
    retire_existing(path);
    const size_t size = sizeof(shared_cache::Header) + size_t(slot_size) * slot_count;
    std::string tmp = path + ".new." + std::to_string(::getpid());
    ::unlink(tmp.c_str());
    int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        error = tmp + ": " + std::strerror(errno);
        return nullptr;
    }
    // The exclusive lock says "a daemon stands behind this file" for as long
    // as the daemon lives (a killed daemon's lock goes with it): readers map
    // only a locked file (see common/shared_cache.h).
    void* p = MAP_FAILED;
    if (::fchmod(fd, 0644) == 0 && ::ftruncate(fd, off_t(size)) == 0 && ::flock(fd, LOCK_EX | LOCK_NB) == 0)
        p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int saved = errno;
    if (p == MAP_FAILED) {
        ::close(fd);
        ::unlink(tmp.c_str());
        error = tmp + ": " + std::strerror(saved);
        return nullptr;
    }
    // The daemon's view stays out of core dumps (the process is not dumpable
    // either; see main.cc).
    (void)::madvise(p, size, MADV_DONTDUMP);
    auto* h = static_cast<shared_cache::Header*>(p);
    h->version = shared_cache::kVersion;
    h->header_size = sizeof(shared_cache::Header);
    h->slot_size = slot_size;
    h->slot_count = slot_count;
    h->file_size = size;
    h->generation = 1;
    h->retired = 0;
    h->created_ns = uint64_t(shared_cache::monotonic_ns());
    h->beat_s = shared_cache::realtime_s();
    h->beat_ns = h->created_ns;
    __atomic_store_n(&h->magic, shared_cache::kMagic, __ATOMIC_RELEASE);
    if (::mprotect(p, size, PROT_READ) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
        saved = errno;
        ::munmap(p, size);
        ::close(fd);
        ::unlink(tmp.c_str());
        error = path + ": " + std::strerror(saved);
        return nullptr;
    }
    std::unique_ptr<SharedCacheWriter> c(new SharedCacheWriter());
    c->path_ = path;
    c->base_ = static_cast<uint8_t*>(p);
    c->size_ = size;
    c->slot_size_ = slot_size;
    c->slot_count_ = slot_count;
    c->lock_fd_ = fd;
    c->last_beat_.store(int64_t(h->beat_ns), std::memory_order_relaxed);
    return c;
}

SharedCacheWriter::~SharedCacheWriter() { retire(); }

void SharedCacheWriter::put(std::string_view key, const std::vector<uint8_t>& frame, int64_t expires_ns,
                      uint64_t generation) {
    // `frame` is a finished response (u32 length first); readers get it
    // without the length, as client::call returns frames.
    // Only entries found are published: the file is readable by every
    // user, and the key of a NotFound answer is whatever somebody typed (a
    // password typed at a user-name prompt); those stay in the daemon.
    const size_t room = slot_size_ - sizeof(shared_cache::SlotHead);
    if (!shared_op(key) || frame.size() < 4 + proto::kHeaderSize ||
        proto::read_be32(frame.data()) != frame.size() - 4 || key.size() + frame.size() - 4 > room ||
        static_cast<proto::Status>(frame[6]) != proto::Status::Ok)
        return;
    const uint8_t* body = frame.data() + 4;
    const size_t body_len = frame.size() - 4;
    const uint64_t h = shared_cache::hash64(key.data(), key.size());
    const uint32_t mask = slot_count_ - 1;
    std::lock_guard<std::mutex> lock(mutex_);
    if (retired_) return;
    if (generation != 0 && generation != epoch_) return;
    const uint64_t gen = __atomic_load_n(&header_of(base_)->generation, __ATOMIC_RELAXED);
    const int64_t now = shared_cache::monotonic_ns();
    auto slot_at = [&](uint32_t i) { return base_ + sizeof(shared_cache::Header) + size_t(i) * slot_size_; };
    auto head_at = [&](uint32_t i) { return reinterpret_cast<shared_cache::SlotHead*>(slot_at(i)); };
    // Two candidate slots: the same key first, then a free or stale one, else
    // the one that expires first.
    const uint32_t cand[2] = {uint32_t(h) & mask, (uint32_t(h) + 1) & mask};
    uint32_t pick = cand[0];
    int best = -1;
    for (uint32_t i : cand) {
        const shared_cache::SlotHead* s = head_at(i);
        int score;
        if (slot_holds(slot_at(i), key, h))
            score = 3;
        else if (s->len == 0 || s->generation != gen || s->expires_ns <= now)
            score = 2;
        else
            score = 0;
        if (score > best || (score == best && score == 0 && s->expires_ns < head_at(pick)->expires_ns)) {
            best = score;
            pick = i;
        }
    }
    shared_cache::SlotHead* s = head_at(pick);
    uint8_t* data = slot_at(pick) + sizeof(shared_cache::SlotHead);
    // Published again (a lookup asked over the socket while the slot holds
    // it, as when a reader missed it just before) and intact: nothing to
    // write.
    if (best == 3 && s->generation == gen && s->expires_ns == expires_ns && s->len == key.size() + body_len &&
        std::memcmp(data + key.size(), body, body_len) == 0 && s->checksum == shared_cache::slot_checksum(*s, data))
        return;
    WriteWindow window(base_, size_, slot_at(pick), slot_size_);
    if (!window.ok()) return;
    const uint32_t seq = s->seq;
    __atomic_store_n(&s->seq, seq | 1u, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    shared_cache::SlotHead nh{};
    nh.len = uint32_t(key.size() + body_len);
    nh.key_len = uint32_t(key.size());
    nh.generation = gen;
    nh.expires_ns = expires_ns;
    nh.key_hash = h;
    std::memcpy(data, key.data(), key.size());
    std::memcpy(data + key.size(), body, body_len);
    // Nothing of a longer record before stays behind the new one.
    // (The old length is read from the file: never past the slot.)
    if (const size_t old_len = std::min<size_t>(s->len, room); old_len > nh.len)
        std::memset(data + nh.len, 0, old_len - nh.len);
    nh.checksum = shared_cache::slot_checksum(nh, data);
    s->len = nh.len;
    s->key_len = nh.key_len;
    s->checksum = nh.checksum;
    s->generation = nh.generation;
    s->expires_ns = nh.expires_ns;
    s->key_hash = nh.key_hash;
    __atomic_store_n(&s->seq, (seq | 1u) + 1, __ATOMIC_RELEASE);
}

void SharedCacheWriter::zero_slot_locked(uint8_t* slot) {
    auto* s = reinterpret_cast<shared_cache::SlotHead*>(slot);
    const uint32_t seq = s->seq;
    __atomic_store_n(&s->seq, seq | 1u, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    std::memset(slot + sizeof(s->seq), 0, slot_size_ - sizeof(s->seq));
    __atomic_store_n(&s->seq, (seq | 1u) + 1, __ATOMIC_RELEASE);
}

void SharedCacheWriter::wipe_locked() {
    ++epoch_;
    if (base_ == nullptr) return;
    WriteWindow window(base_, size_, base_, size_);
    if (!window.ok()) return;
    // Stale at once for readers, then zeroed slot by slot under the seqlock
    // (a reader copying a slot meanwhile sees the sequence move and misses).
    // Slots never written (len 0 and all zero) are left alone: reading their
    // head does not make the kernel allocate their pages.
    __atomic_fetch_add(&header_of(base_)->generation, 1, __ATOMIC_ACQ_REL);
    for (uint32_t i = 0; i < slot_count_; ++i) {
        uint8_t* slot = base_ + sizeof(shared_cache::Header) + size_t(i) * slot_size_;
        auto* s = reinterpret_cast<shared_cache::SlotHead*>(slot);
        if (s->len == 0 && s->key_hash == 0) continue;
        zero_slot_locked(slot);
    }
}

uint8_t* SharedCacheWriter::find_locked(std::string_view key, uint64_t h) {
    const uint32_t mask = slot_count_ - 1;
    for (uint32_t i : {uint32_t(h) & mask, (uint32_t(h) + 1) & mask}) {
        uint8_t* slot = base_ + sizeof(shared_cache::Header) + size_t(i) * slot_size_;
        if (slot_holds(slot, key, h)) return slot;
    }
    return nullptr;
}

void SharedCacheWriter::erase(std::string_view key) {
    if (!shared_op(key)) return;
    const uint64_t h = shared_cache::hash64(key.data(), key.size());
    std::lock_guard<std::mutex> lock(mutex_);
    ++epoch_;
    if (retired_ || base_ == nullptr) return;
    uint8_t* slot = find_locked(key, h);
    if (slot == nullptr) return;
    WriteWindow window(base_, size_, slot, slot_size_);
    if (window.ok()) zero_slot_locked(slot);
}

void SharedCacheWriter::flush() {
    std::lock_guard<std::mutex> lock(mutex_);
    wipe_locked();
}

uint64_t SharedCacheWriter::generation() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (retired_ || base_ == nullptr) return 0;
    return epoch_;
}

void SharedCacheWriter::beat(int64_t now_ns) {
    if (now_ns - last_beat_.load(std::memory_order_relaxed) < shared_cache::kHeartbeatIntervalNs / 2) return;
    std::lock_guard<std::mutex> lock(mutex_);
    shared_cache::Header* h = header_of(base_);
    // Another loop may have stamped a later time meanwhile.
    if (retired_ || h == nullptr || int64_t(h->beat_ns) >= now_ns) return;
    WriteWindow window(base_, size_, base_, sizeof(shared_cache::Header));
    if (!window.ok()) return;
    __atomic_store_n(&h->beat_s, shared_cache::realtime_s(), __ATOMIC_RELAXED);
    __atomic_store_n(&h->beat_ns, uint64_t(now_ns), __ATOMIC_RELEASE);
    last_beat_.store(now_ns, std::memory_order_relaxed);
}

void SharedCacheWriter::retire() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (base_ != nullptr && !retired_) {
        WriteWindow window(base_, size_, base_, sizeof(shared_cache::Header));
        if (window.ok()) __atomic_store_n(&header_of(base_)->retired, 1u, __ATOMIC_RELEASE);
    }
    retired_ = true;
    // Nothing stays behind for a reader that still holds the file, and the
    // daemon keeps no writable mapping of it past this point.
    wipe_locked();
    if (base_ != nullptr) ::munmap(base_, size_);
    base_ = nullptr;
    if (lock_fd_ >= 0) ::close(lock_fd_);
    lock_fd_ = -1;
}

void SharedCacheWriter::unlink_file() {
    retire();
    if (!path_.empty()) ::unlink(path_.c_str());
}

}  // namespace dj
