// The shared lookup cache: a file the daemon writes next to its socket
// (<socket dir>/cache) and every process maps read-only, so that a warm
// lookup costs no socket round trip.
//
// The file holds response frames exactly as the daemon would send them, keyed
// by the request (op + body, the same key as the daemon's own cache), in a
// table of fixed-size slots (open addressing, two probes). Records that do not
// fit a slot (big groups) are simply not shared; the client asks the socket.
//
// Layout (host byte order; the file never leaves the machine):
//
//   Header (64 bytes)
//     u64 magic        kMagic
//     u32 version      kVersion
//     u32 header_size  sizeof(Header)
//     u32 slot_size    bytes per slot, a multiple of 64
//     u32 slot_count   a power of two
//     u64 file_size    header_size + slot_size * slot_count
//     u64 generation   bumped by every flush: a record of another generation
//                      is stale
//     u32 retired      set when the daemon stops or a newer file replaces
//                      this one: readers drop the mapping
//     u32 beat_s       heartbeat, CLOCK_REALTIME seconds (mod 2^32)
//     u64 created_ns   CLOCK_MONOTONIC at creation
//     u64 beat_ns      heartbeat, CLOCK_MONOTONIC
//   Slot[slot_count]
//     u32 seq          seqlock: odd while the daemon writes the slot
//     u32 len          bytes of data used (key + frame)
//     u32 key_len
//     u32 checksum     of the slot's fields and its data (see slot_checksum)
//     u64 generation   the header generation the record was written under
//     i64 expires_ns   CLOCK_MONOTONIC; readers ignore expired records
//     u64 key_hash     hash64(key)
//     u8  data[slot_size - 40]: the key, then the response frame
//
// A reader copies a slot between two reads of seq and then checks, on its
// copy: seq even and unchanged, lengths within the slot, generation current,
// not expired, key hash and key equal, checksum right. Anything else is a
// miss and the client asks the socket. Every offset is derived from the
// header values read once at mapping time and checked against the file size,
// so a corrupt or hostile file cannot make a reader touch memory outside the
// mapping. The file must be owned by root or by the owner of its directory
// (the rule the socket follows) and writable by nobody else, and a daemon
// must stand behind it: the daemon holds an exclusive flock on the file for
// as long as it runs, and a reader maps (and, once a second, keeps) the file
// only while a shared try-lock fails. A killed daemon's file is thus
// dropped, like a stopped daemon's (retired, then removed). The file is
// never truncated while mapped (it would raise SIGBUS in readers): the
// daemon only ever replaces it with rename().
//
// Heartbeat (version 2): the daemon's event loops stamp beat_ns and beat_s
// every kHeartbeatIntervalNs, from the loops themselves, so that a daemon
// whose loops are stuck (stopped, frozen, deadlocked) stops stamping while it
// still holds its socket and its lock. Before a client connects, it reads the
// heartbeat of the file beside the socket it is about to use (daemon_stalled):
// a heartbeat older than kHeartbeatStaleNs means the daemon is known not to
// answer, and the client fails at once as if no daemon were there, instead
// of waiting its whole timeout again in every new process. The verdict is
// made afresh on every call: the first stamp after the hang lets clients talk
// to the daemon again. Records in the file are still served until they
// expire: they are as true as the daemon's cache says.
// Only a stale verdict changes anything, so doubt always means "not stale":
// an untrusted, unlocked, retired or malformed file, or clocks that disagree.
// A stale verdict needs both clocks to say so (see heartbeat_stale), so that
// a client in another time namespace (CLOCK_MONOTONIC offset) or a realtime
// clock set forward cannot make clients give up on a daemon that answers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dj::shared_cache {

inline constexpr uint64_t kMagic = 0x31304d48534a4444ull;  // "DDJSHM01"
inline constexpr uint32_t kVersion = 2;   // 2: the heartbeat
inline constexpr uint32_t kDefaultSlotSize = 512;
inline constexpr uint32_t kDefaultSlotCount = 16384;
inline constexpr uint32_t kMaxSlotSize = 64 * 1024;
inline constexpr uint32_t kMaxSlotCount = 1u << 22;
inline constexpr const char* kFileName = "cache";
// The daemon stamps the heartbeat at least this often while its event loops
// run (each loop wakes at least this often to do it).
inline constexpr int64_t kHeartbeatIntervalNs = 500'000'000;
// A heartbeat older than this means the daemon does not answer: four missed
// stamps, and as long as the clients' default timeout (a client that waited
// that long would have given up anyway). Fixed rather than configured: the
// modules read no configuration file.
inline constexpr int64_t kHeartbeatStaleNs = 2'000'000'000;
// A monotonic stamp up to this far ahead of the reader's clock (the daemon
// stamped between the reader's clock read and its read of the stamp) is
// fresh; further ahead it is not from this clock, and only beat_s decides.
inline constexpr int64_t kHeartbeatAheadNs = 1'000'000'000;

struct Header {
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;
    uint32_t slot_size;
    uint32_t slot_count;
    uint64_t file_size;
    uint64_t generation;
    uint32_t retired;
    uint32_t beat_s;
    uint64_t created_ns;
    uint64_t beat_ns;
};
static_assert(sizeof(Header) == 64);

struct SlotHead {
    uint32_t seq;
    uint32_t len;
    uint32_t key_len;
    uint32_t checksum;
    uint64_t generation;
    int64_t expires_ns;
    uint64_t key_hash;
};
static_assert(sizeof(SlotHead) == 40);

uint64_t hash64(const void* data, size_t n) noexcept;
// Checksum of a slot: every field but seq and checksum, and data[0, len).
uint32_t slot_checksum(const SlotHead& h, const uint8_t* data) noexcept;
int64_t monotonic_ns() noexcept;
// CLOCK_REALTIME seconds, as beat_s holds them (mod 2^32).
uint32_t realtime_s() noexcept;

// Whether a heartbeat (beat_ns, beat_s) read at (now_ns, now_s) shows a
// daemon that stopped stamping: older than kHeartbeatStaleNs by both clocks.
// A monotonic stamp further ahead than kHeartbeatAheadNs (another time
// namespace, or garbage) leaves the verdict to beat_s alone; a realtime stamp
// in the future (the clock was set back) is fresh.
bool heartbeat_stale(uint64_t beat_ns, uint32_t beat_s, int64_t now_ns, uint32_t now_s) noexcept;

// Whether the daemon listening on `socket_path` is known not to answer: the
// shared cache file beside it passes the checks above (owner, mode, a daemon's
// lock, not retired, this version) and its heartbeat is stale. false on any
// doubt; the caller then talks to the socket as usual. Never blocks, never
// throws; uses the mapping when it is of this file, else reads the header.
bool daemon_stalled(const std::string& socket_path) noexcept;

// <directory of socket_path>/cache
std::string path_for_socket(const std::string& socket_path);

// The reader the NSS module uses. Process-wide, thread-safe, never blocks
// (a thread that finds the mapping being replaced just misses), never throws.
// DJANGO_AUTH_NSS_SHARED_CACHE=0 in the environment (non-setuid processes)
// turns it off (so does its old name, DJANGO_AUTH_NSS_MMAP=0).
//
// Finds the response frame for `key` (see request_key) and copies it into
// `frame`. false on any miss or doubt.
bool lookup(std::string_view key, std::string& frame) noexcept;

// The cache key of a finished request frame (proto::Writer::finish()): the
// frame without its u32 length, as the daemon's cache keys it.
inline std::string_view request_key(const std::vector<uint8_t>& request) noexcept;

// For tests: forget the mapping (the next lookup maps the file again) and
// lift the retry back-off.
void reset() noexcept;

}  // namespace dj::shared_cache

inline std::string_view dj::shared_cache::request_key(const std::vector<uint8_t>& request) noexcept {
    if (request.size() < 4) return {};
    return std::string_view(reinterpret_cast<const char*>(request.data()) + 4, request.size() - 4);
}
