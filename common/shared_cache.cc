// The shared lookup cache's reader; see shared_cache.h.
#include "common/shared_cache.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "common/client.h"
#include "common/protocol.h"

namespace dj::shared_cache {

uint64_t hash64(const void* data, size_t n) noexcept {
    const auto* p = static_cast<const uint8_t*>(data);
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t(n) * 0xff51afd7ed558ccdull);
    auto mix = [&h](uint64_t w) {
        w *= 0x87c37b91114253d5ull;
        w = (w << 31) | (w >> 33);
        h ^= w * 0x4cf5ad432745937full;
        h = ((h << 27) | (h >> 37)) * 5 + 0x52dce729;
    };
    while (n >= 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        mix(w);
        p += 8;
        n -= 8;
    }
    if (n > 0) {
        uint64_t w = 0;
        std::memcpy(&w, p, n);
        mix(w ^ (uint64_t(n) << 56));
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

uint32_t slot_checksum(const SlotHead& s, const uint8_t* data) noexcept {
    uint64_t fields[5] = {s.len, s.key_len, s.generation, uint64_t(s.expires_ns), s.key_hash};
    uint64_t h = hash64(fields, sizeof fields) ^ (hash64(data, s.len) * 0x9e3779b97f4a7c15ull);
    return uint32_t(h ^ (h >> 32));
}

int64_t monotonic_ns() noexcept {
    struct timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

uint32_t realtime_s() noexcept {
    struct timespec ts {};
    clock_gettime(CLOCK_REALTIME, &ts);
    return uint32_t(ts.tv_sec);
}

bool heartbeat_stale(uint64_t beat_ns, uint32_t beat_s, int64_t now_ns, uint32_t now_s) noexcept {
    if (beat_ns == 0 || beat_s == 0) return false;  // never stamped: no verdict
    // Realtime: whole seconds, so a difference of 2 may be a little over 1 s;
    // it only confirms what the monotonic clock says. Set back: negative.
    const bool real_stale = int32_t(now_s - beat_s) >= int32_t(kHeartbeatStaleNs / 1000000000);
    const int64_t beat = beat_ns > uint64_t(INT64_MAX) ? INT64_MAX : int64_t(beat_ns);
    const int64_t age = now_ns - beat;
    if (age >= -kHeartbeatAheadNs && age <= kHeartbeatStaleNs) return false;  // fresh
    // Older than the bound, or too far ahead to be this clock's: realtime decides.
    return real_stale;
}

std::string path_for_socket(const std::string& socket_path) {
    size_t slash = socket_path.rfind('/');
    if (slash == std::string::npos) return kFileName;
    return socket_path.substr(0, slash + 1) + kFileName;
}

namespace {

// How often the shared cache file's identity is checked again (it may have been
// replaced), and how soon a failed open is retried.
constexpr int64_t kRecheckNs = 1000000000;
// Slots larger than this are not read (the copy lives on the stack).
constexpr uint32_t kReaderMaxSlot = 4096;

struct Map {
    const uint8_t* base = nullptr;
    size_t size = 0;
    uint32_t slot_size = 0;
    uint32_t slot_count = 0;
    dev_t dev = 0;
    ino_t ino = 0;
    std::string path;
};

// Readers hold the lock shared while they read the mapping; replacing the
// mapping takes it exclusively. Nobody ever waits for it (try-locks only), so
// a child forked while another thread held it merely misses.
pthread_rwlock_t g_lock = PTHREAD_RWLOCK_INITIALIZER;
Map g_map;                                  // guarded by g_lock
std::atomic<int64_t> g_next_check{0};       // monotonic ns
std::atomic<int> g_enabled{-1};             // -1 unknown

// In a child of fork() only the forking thread exists: a lock some other
// thread of the parent held stays held forever. Start the child unlocked.
void child_after_fork() { g_lock = PTHREAD_RWLOCK_INITIALIZER; }

bool enabled() noexcept {
    int e = g_enabled.load(std::memory_order_relaxed);
    if (e < 0) {
        static std::atomic<bool> registered{false};
        if (!registered.exchange(true)) ::pthread_atfork(nullptr, nullptr, child_after_fork);
        // DJANGO_AUTH_NSS_MMAP is the variable's old name, still honoured.
        auto off = [](const char* name) {
            const char* v = ::secure_getenv(name);
            return v != nullptr && std::strcmp(v, "0") == 0;
        };
        e = (off("DJANGO_AUTH_NSS_SHARED_CACHE") || off("DJANGO_AUTH_NSS_MMAP")) ? 0 : 1;
        g_enabled.store(e, std::memory_order_relaxed);
    }
    return e == 1;
}

const Header* header() noexcept { return reinterpret_cast<const Header*>(g_map.base); }

// A daemon holds an exclusive flock on its file while it runs; a shared
// try-lock that does not fail means nobody does (a killed daemon).
bool daemon_alive(int fd) noexcept {
    if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
        ::flock(fd, LOCK_UN);
        return false;
    }
    return errno == EWOULDBLOCK;
}

void unmap_locked() noexcept {
    if (g_map.base != nullptr) ::munmap(const_cast<uint8_t*>(g_map.base), g_map.size);
    g_map = Map{};
}

// Opens `path` when it may be trusted (see shared_cache.h: a regular file
// owned by root or its directory's owner, writable by nobody else, of a
// plausible size); -1 otherwise. The caller checks the daemon's lock.
int open_trusted(const std::string& path, struct stat& st) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return -1;
    struct stat dst {};
    std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
    if (dir.empty()) dir = path[0] == '/' ? "/" : ".";
    const bool ok = ::fstat(fd, &st) == 0 && ::stat(dir.c_str(), &dst) == 0 && S_ISREG(st.st_mode) &&
                    (st.st_uid == 0 || st.st_uid == dst.st_uid) && (st.st_mode & 022) == 0 &&
                    st.st_size >= off_t(sizeof(Header)) && st.st_size <= off_t(1) << 32;
    if (!ok) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// Opens and checks the file; the caller holds the lock exclusively.
void map_locked() noexcept {
    try {
        std::string sock = client::default_socket_path();
        if (sock.empty()) return;
        std::string path = path_for_socket(sock);
        struct stat st {};
        int fd = open_trusted(path, st);
        if (fd < 0) return;
        void* p = daemon_alive(fd) ? ::mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
        ::close(fd);
        if (p == MAP_FAILED) return;
        Header h;
        std::memcpy(&h, p, sizeof h);
        uint64_t need = uint64_t(h.slot_size) * h.slot_count + sizeof(Header);
        if (h.magic != kMagic || h.version != kVersion || h.header_size != sizeof(Header) ||
            h.slot_size < sizeof(SlotHead) + 8 || h.slot_size > kReaderMaxSlot || h.slot_size % 8 != 0 ||
            h.slot_count == 0 || h.slot_count > kMaxSlotCount || (h.slot_count & (h.slot_count - 1)) != 0 ||
            h.file_size != need || need > uint64_t(st.st_size)) {
            ::munmap(p, size_t(st.st_size));
            return;
        }
        g_map.base = static_cast<const uint8_t*>(p);
        g_map.size = size_t(st.st_size);
        g_map.slot_size = h.slot_size;
        g_map.slot_count = h.slot_count;
        g_map.dev = st.st_dev;
        g_map.ino = st.st_ino;
        g_map.path = std::move(path);
    } catch (...) {
        unmap_locked();
    }
}

// Drops a replaced or retired file and maps the current one; at most once
// per kRecheckNs unless forced (next_check set to 0).
void maintain(int64_t now) noexcept {
    if (::pthread_rwlock_trywrlock(&g_lock) != 0) return;
    if (g_map.base != nullptr) {
        struct stat st {};
        bool same = false;
        int fd = ::open(g_map.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        if (fd >= 0) {
            same = ::fstat(fd, &st) == 0 && st.st_dev == g_map.dev && st.st_ino == g_map.ino &&
                   __atomic_load_n(&header()->retired, __ATOMIC_ACQUIRE) == 0 && daemon_alive(fd);
            ::close(fd);
        }
        if (!same) unmap_locked();
    }
    if (g_map.base == nullptr) map_locked();
    g_next_check.store(now + kRecheckNs, std::memory_order_relaxed);
    ::pthread_rwlock_unlock(&g_lock);
}

// One probe of slot `idx`; the caller holds the lock shared.
bool read_slot(uint32_t idx, std::string_view key, uint64_t h, uint64_t gen, int64_t now, std::string& frame) {
    const uint8_t* slot = g_map.base + sizeof(Header) + size_t(idx) * g_map.slot_size;
    const auto* seqp = reinterpret_cast<const uint32_t*>(slot);
    uint32_t s1 = __atomic_load_n(seqp, __ATOMIC_ACQUIRE);
    if (s1 & 1) return false;
    SlotHead sh;
    std::memcpy(&sh, slot, sizeof sh);
    const uint32_t room = g_map.slot_size - uint32_t(sizeof(SlotHead));
    if (sh.key_hash != h || sh.key_len != key.size() || sh.len > room || sh.len < sh.key_len + 4 ||
        sh.generation != gen || sh.expires_ns <= now)
        return false;
    alignas(8) uint8_t data[kReaderMaxSlot];
    std::memcpy(data, slot + sizeof(SlotHead), sh.len);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(seqp, __ATOMIC_RELAXED) != s1) return false;
    if (slot_checksum(sh, data) != sh.checksum) return false;
    if (std::memcmp(data, key.data(), key.size()) != 0) return false;
    const uint8_t* f = data + sh.key_len;
    const size_t flen = sh.len - sh.key_len;
    // The checks client::call makes on a frame from the socket.
    if (f[0] != proto::kProtocolVersion || key.size() < 2 || f[1] != uint8_t(key[1]) || f[3] != 0) return false;
    frame.assign(reinterpret_cast<const char*>(f), flen);
    return true;
}

}  // namespace

bool lookup(std::string_view key, std::string& frame) noexcept {
    try {
        if (key.size() < proto::kHeaderSize || !enabled()) return false;
        switch (static_cast<proto::Op>(static_cast<uint8_t>(key[1]))) {
            case proto::Op::PwByName:
            case proto::Op::PwByUid:
            case proto::Op::GrByName:
            case proto::Op::GrByGid:
            case proto::Op::GroupsOfUser: break;
            default: return false;   // never shared (lists, logins): do not touch the file
        }
        // One clock read serves both the re-check schedule and expiry.
        const int64_t now = monotonic_ns();
        if (now >= g_next_check.load(std::memory_order_relaxed)) maintain(now);
        if (::pthread_rwlock_tryrdlock(&g_lock) != 0) return false;
        bool found = false;
        if (g_map.base != nullptr) {
            const Header* hd = header();
            if (__atomic_load_n(&hd->retired, __ATOMIC_ACQUIRE) != 0) {
                g_next_check.store(0, std::memory_order_relaxed);
            } else {
                const uint64_t gen = __atomic_load_n(&hd->generation, __ATOMIC_ACQUIRE);
                const uint64_t h = hash64(key.data(), key.size());
                const uint32_t mask = g_map.slot_count - 1;
                const uint32_t i0 = uint32_t(h) & mask;
                found = read_slot(i0, key, h, gen, now, frame) || read_slot((i0 + 1) & mask, key, h, gen, now, frame);
            }
        }
        ::pthread_rwlock_unlock(&g_lock);
        return found;
    } catch (...) {
        return false;
    }
}

namespace {

// The heartbeat verdict from the header of `file` read with pread(): for a
// socket whose file this process has not mapped.
bool stalled_by_read(const std::string& file, int64_t now, uint32_t now_s) {
    struct stat st {};
    int fd = open_trusted(file, st);
    if (fd < 0) return false;
    Header h{};
    const bool ok = ::pread(fd, &h, sizeof h, 0) == ssize_t(sizeof h) && daemon_alive(fd);
    ::close(fd);
    return ok && h.magic == kMagic && h.version == kVersion && h.header_size == sizeof(Header) &&
           h.retired == 0 && heartbeat_stale(h.beat_ns, h.beat_s, now, now_s);
}

}  // namespace

bool daemon_stalled(const std::string& socket_path) noexcept {
    try {
        const std::string file = path_for_socket(socket_path);
        const int64_t now = monotonic_ns();
        const uint32_t now_s = realtime_s();
        // The mapping, when it is of this file and not retired (a file
        // replaced by a new daemon is retired by it first).
        if (::pthread_rwlock_tryrdlock(&g_lock) == 0) {
            int verdict = -1;
            if (g_map.base != nullptr && g_map.path == file) {
                const Header* hd = header();
                if (__atomic_load_n(&hd->retired, __ATOMIC_ACQUIRE) == 0) {
                    const uint64_t beat = __atomic_load_n(&hd->beat_ns, __ATOMIC_ACQUIRE);
                    verdict = heartbeat_stale(beat, __atomic_load_n(&hd->beat_s, __ATOMIC_RELAXED), now, now_s);
                }
            }
            ::pthread_rwlock_unlock(&g_lock);
            if (verdict >= 0) return verdict == 1;
        }
        return stalled_by_read(file, now, now_s);
    } catch (...) {
        return false;
    }
}

void reset() noexcept {
    if (::pthread_rwlock_trywrlock(&g_lock) != 0) return;
    unmap_locked();
    g_enabled.store(-1, std::memory_order_relaxed);
    g_next_check.store(0, std::memory_order_relaxed);
    ::pthread_rwlock_unlock(&g_lock);
}

}  // namespace dj::shared_cache
