// The shared lookup cache: the daemon's writer (daemon/shared_cache_writer.cc) and
// the clients' reader (common/shared_cache.cc) on a real file. Answers round
// trip; flush, expiry, retirement and replacement make readers miss or re-map;
// a corrupt or hostile file (random bytes, flipped bytes, wrong owner or mode)
// never crashes a reader nor yields anything but the right answer or a miss;
// a reader racing the writer never sees a torn record; the heartbeat tells
// a stamping daemon from a stuck one, and doubt from either; an answer read
// before a flush is not published after it.
#include <fcntl.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <random>
#include <setjmp.h>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include <cmocka.h>
}

#include "common/shared_cache.h"
#include "common/protocol.h"
#include "daemon/cache.h"
#include "daemon/shared_cache_writer.h"

namespace {

std::string g_dir, g_path;

std::vector<uint8_t> request(dj::proto::Op op, const std::string& name) {
    dj::proto::Writer w(op);
    w.str(name);
    return w.finish();
}

std::string key_of(const std::vector<uint8_t>& req) { return std::string(dj::shared_cache::request_key(req)); }

std::vector<uint8_t> group_frame(const std::string& name, uint32_t gid, int members,
                                 dj::proto::Op op = dj::proto::Op::GrByName) {
    dj::proto::Writer w(op);
    dj::proto::Group g;
    g.name = name;
    g.gid = gid;
    for (int i = 0; i < members; ++i) g.members.push_back("member" + std::to_string(i));
    w.group(g);
    return w.finish();  // with its length, as the daemon's cache holds it
}

// What a reader gets: the frame without its length.
std::string as_string(const std::vector<uint8_t>& v) { return std::string(v.begin() + 4, v.end()); }

int64_t later() { return dj::shared_cache::monotonic_ns() + int64_t(60) * 1000000000; }

std::unique_ptr<dj::SharedCacheWriter> make(uint32_t slots = 64) {
    std::string err;
    auto c = dj::SharedCacheWriter::create(g_path, 512, slots, err);
    assert_non_null(c.get());
    dj::shared_cache::reset();
    return c;
}

// The cache file mapped read-write, as someone who damages it would.
uint8_t* map_for_writing(struct stat& st) {
    int fd = open(g_path.c_str(), O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    auto* p = static_cast<uint8_t*>(mmap(nullptr, size_t(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    close(fd);
    assert_true(p != MAP_FAILED);
    return p;
}

int setup(void**) {
    char tmpl[] = "/tmp/dj-shm-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    g_dir = tmpl;
    g_path = g_dir + "/cache";
    setenv("DJANGO_AUTH_SOCKET", (g_dir + "/socket").c_str(), 1);
    unsetenv("DJANGO_AUTH_NSS_MMAP");
    return 0;
}

int teardown(void**) {
    unlink(g_path.c_str());
    rmdir(g_dir.c_str());
    return 0;
}

// A flush (a change notified by the database) between reading an answer and
// caching it: the answer may predate the change, so neither the cache nor the
// shared file keeps it. Nor does a publication that took the file's
// generation before a flush.
void test_put_after_flush_is_dropped(void**) {
    auto shared = make();
    dj::Cache cache(std::chrono::seconds(3600), std::chrono::seconds(3600), 100, 1 << 20);
    cache.share(shared.get());
    auto req = request(dj::proto::Op::GrByName, "ops");
    auto frame = group_frame("ops", 200001, 2);
    std::string got;
    const uint64_t read_at = cache.generation();
    cache.flush();
    cache.put(key_of(req), frame, true, dj::Cache::Clock::now(), read_at);
    assert_false(cache.get(key_of(req)).has_value());
    assert_false(dj::shared_cache::lookup(key_of(req), got));
    cache.put(key_of(req), frame, true, dj::Cache::Clock::now(), cache.generation());
    assert_true(cache.get(key_of(req)).has_value());
    assert_true(dj::shared_cache::lookup(key_of(req), got));
    const uint64_t file_gen = shared->generation();
    cache.flush();
    assert_false(dj::shared_cache::lookup(key_of(req), got));
    shared->put(key_of(req), frame, later(), file_gen);
    assert_false(dj::shared_cache::lookup(key_of(req), got));
    cache.share(nullptr);
}

// Push invalidation of single answers: drop() removes exactly the entries
// carrying a tag, from the cache and from the shared file; the others stay
// in both. An entry evicted from the cache leaves the file too (else a later
// drop could not reach its copy there). An answer read before a drop, or a
// publication that took the file's generation before it, is not kept.
void test_drop_by_tag(void**) {
    auto shared = make();
    dj::Cache cache(std::chrono::seconds(3600), std::chrono::seconds(3600), 3, 1 << 20);
    cache.share(shared.get());
    auto ka = key_of(request(dj::proto::Op::GrByName, "a"));
    auto kb = key_of(request(dj::proto::Op::GrByName, "b"));
    auto kc = key_of(request(dj::proto::Op::GrByName, "c"));
    auto fa = group_frame("a", 200001, 1), fb = group_frame("b", 200002, 1), fc = group_frame("c", 200003, 1);
    const auto now = dj::Cache::Clock::now();
    cache.put(ka, fa, true, now, cache.generation(), {"g1", "G"});
    cache.put(kb, fb, true, now, cache.generation(), {"g2", "G"});
    std::string got;
    assert_true(dj::shared_cache::lookup(ka, got));
    assert_true(dj::shared_cache::lookup(kb, got));
    assert_int_equal(cache.drop({"g1"}), 1);
    assert_false(cache.get(ka).has_value());
    assert_false(dj::shared_cache::lookup(ka, got));
    assert_true(cache.get(kb).has_value());
    assert_true(dj::shared_cache::lookup(kb, got));
    assert_int_equal(cache.drop({"nothing"}), 0);
    assert_true(dj::shared_cache::lookup(kb, got));
    // Read before a drop: not kept, though the drop touched other keys.
    const uint64_t read_at = cache.generation();
    const uint64_t file_gen = shared->generation();
    cache.drop({"g9"});
    cache.put(ka, fa, true, now, read_at, {"g1"});
    assert_false(cache.get(ka).has_value());
    cache.put(ka, fa, true, now, cache.generation(), {"g1", "G"});
    assert_true(dj::shared_cache::lookup(ka, got));
    cache.drop({"g1"});
    shared->put(ka, fa, later(), file_gen);  // a get() that copied it before
    assert_false(dj::shared_cache::lookup(ka, got));
    // Several tags at once; entries with both are dropped once.
    cache.put(ka, fa, true, now, cache.generation(), {"g1", "G"});
    assert_int_equal(cache.drop({"g1", "G"}), 2);
    assert_int_equal(cache.stats().entries, 0);
    assert_int_equal(cache.stats().bytes, 0);
    // Eviction (max 3 entries) takes the shared copy with it.
    cache.put(ka, fa, true, now, cache.generation(), {"g1"});
    cache.put(kb, fb, true, now, cache.generation(), {"g2"});
    cache.put(kc, fc, true, now, cache.generation(), {"g3"});
    cache.put(key_of(request(dj::proto::Op::GrByName, "d")), group_frame("d", 200004, 1), true, now,
              cache.generation(), {"g4"});
    assert_false(cache.get(ka).has_value());
    assert_false(dj::shared_cache::lookup(ka, got));
    assert_true(dj::shared_cache::lookup(kc, got));
    cache.share(nullptr);
}

void test_round_trip(void**) {
    auto c = make();
    auto req = request(dj::proto::Op::GrByName, "staff");
    auto frame = group_frame("staff", 200001, 3);
    std::string got;
    assert_false(dj::shared_cache::lookup(key_of(req), got));
    c->put(key_of(req), frame, later());
    assert_true(dj::shared_cache::lookup(key_of(req), got));
    assert_true(got == as_string(frame));
    // Another key, even one hashing near it, is a miss.
    assert_false(dj::shared_cache::lookup(key_of(request(dj::proto::Op::GrByName, "stafg")), got));
    assert_false(dj::shared_cache::lookup(key_of(request(dj::proto::Op::PwByName, "staff")), got));
    // Lists are never shared; records that do not fit a slot neither.
    auto list_req = request(dj::proto::Op::PwList, "x");
    c->put(key_of(list_req), frame, later());
    assert_false(dj::shared_cache::lookup(key_of(list_req), got));
    auto big_req = request(dj::proto::Op::GrByName, "big");
    c->put(key_of(big_req), group_frame("big", 200002, 100), later());
    assert_false(dj::shared_cache::lookup(key_of(big_req), got));
    // Turned off by the environment.
    setenv("DJANGO_AUTH_NSS_MMAP", "0", 1);
    dj::shared_cache::reset();
    assert_false(dj::shared_cache::lookup(key_of(req), got));
    unsetenv("DJANGO_AUTH_NSS_MMAP");
    dj::shared_cache::reset();
    assert_true(dj::shared_cache::lookup(key_of(req), got));
}

void test_flush_and_expiry(void**) {
    auto c = make();
    auto req = request(dj::proto::Op::PwByName, "alice");
    auto frame = group_frame("alice", 1, 0, dj::proto::Op::PwByName);
    std::string got;
    c->put(key_of(req), frame, later());
    assert_true(dj::shared_cache::lookup(key_of(req), got));
    c->flush();
    assert_false(dj::shared_cache::lookup(key_of(req), got));
    c->put(key_of(req), frame, later());
    assert_true(dj::shared_cache::lookup(key_of(req), got));
    c->put(key_of(req), frame, dj::shared_cache::monotonic_ns() - 1);
    assert_false(dj::shared_cache::lookup(key_of(req), got));
}

// The file's bytes past the header, as any local user may read them.
std::string slot_bytes() {
    std::string all;
    int fd = open(g_path.c_str(), O_RDONLY);
    assert_true(fd >= 0);
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) all.append(buf, size_t(n));
    close(fd);
    assert_true(all.size() > sizeof(dj::shared_cache::Header));
    return all.substr(sizeof(dj::shared_cache::Header));
}

// Every slot (512 bytes here) zero but its sequence number, which only ever
// grows (a reader racing the wipe must see it move).
bool all_zero(const std::string& s) {
    for (size_t i = 0; i < s.size(); ++i)
        if (i % 512 >= sizeof(uint32_t) && s[i] != 0) return false;
    return true;
}

// How this process maps g_path: "" if not at all, else the permissions of
// every mapping of it ("r--s" ...).
std::string mappings_of_file() {
    std::string out;
    FILE* f = fopen("/proc/self/maps", "re");
    assert_non_null(f);
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        std::string l(line);
        if (l.find(g_path) != std::string::npos) out += l.substr(l.find(' ') + 1, 4) + " ";
    }
    fclose(f);
    return out;
}

// Only answers found are published (a NotFound key is what someone typed:
// maybe a password); flush and retirement zero every record.
void test_only_found_and_wiped(void**) {
    auto c = make();
    const std::string typed = "Tr0ub4dor&3-typed-as-a-name";
    auto miss = request(dj::proto::Op::PwByName, typed);
    dj::proto::Writer nf(dj::proto::Op::PwByName, dj::proto::Status::NotFound);
    c->put(key_of(miss), nf.finish(), later());
    auto miss_g = request(dj::proto::Op::GroupsOfUser, typed);
    dj::proto::Writer nf2(dj::proto::Op::GroupsOfUser, dj::proto::Status::NotFound);
    c->put(key_of(miss_g), nf2.finish(), later());
    std::string got;
    assert_false(dj::shared_cache::lookup(key_of(miss), got));
    assert_true(slot_bytes().find("Tr0ub4dor") == std::string::npos);
    assert_true(all_zero(slot_bytes()));

    auto req = request(dj::proto::Op::PwByName, "alice-the-user");
    c->put(key_of(req), group_frame("alice-the-user", 1, 0, dj::proto::Op::PwByName), later());
    assert_true(dj::shared_cache::lookup(key_of(req), got));
    // The writer's own view is read-only between writes.
    const std::string maps = mappings_of_file();
    assert_true(maps.find("r--s") != std::string::npos);
    assert_true(maps.find("rw") == std::string::npos);
    assert_true(slot_bytes().find("alice-the-user") != std::string::npos);
    c->flush();
    assert_false(dj::shared_cache::lookup(key_of(req), got));
    assert_true(all_zero(slot_bytes()));
    // A shorter record in a slot leaves nothing of the longer one before.
    c->put(key_of(req), group_frame("alice-the-user", 1, 3, dj::proto::Op::PwByName), later());
    c->put(key_of(req), group_frame("alice-the-user", 1, 0, dj::proto::Op::PwByName), later());
    assert_true(slot_bytes().find("member") == std::string::npos);
    // Retired (the daemon stops): zeroed before it goes.
    c->retire();
    assert_true(all_zero(slot_bytes()));
    dj::shared_cache::reset();
    assert_string_equal(mappings_of_file().c_str(), "");   // and unmapped
    c.reset();
}

void test_many_keys(void**) {
    auto c = make(1024);
    std::string got;
    for (int i = 0; i < 3000; ++i) {
        auto req = request(dj::proto::Op::PwByName, "user" + std::to_string(i));
        c->put(key_of(req), group_frame("user" + std::to_string(i), uint32_t(i), 0, dj::proto::Op::PwByName), later());
    }
    int hits = 0;
    for (int i = 0; i < 3000; ++i) {
        auto req = request(dj::proto::Op::PwByName, "user" + std::to_string(i));
        if (dj::shared_cache::lookup(key_of(req), got)) {
            ++hits;
            assert_true(got == as_string(group_frame("user" + std::to_string(i), uint32_t(i), 0, dj::proto::Op::PwByName)));
        }
    }
    assert_true(hits > 500 && hits <= 1024);
}

void test_retired_and_replaced(void**) {
    auto c = make();
    auto req = request(dj::proto::Op::GrByGid, "g");
    auto one = group_frame("one", 1, 1, dj::proto::Op::GrByGid), two = group_frame("two", 2, 2, dj::proto::Op::GrByGid);
    std::string got;
    c->put(key_of(req), one, later());
    assert_true(dj::shared_cache::lookup(key_of(req), got));
    // A new daemon: the old file is retired, the new one is mapped.
    std::string err;
    auto c2 = dj::SharedCacheWriter::create(g_path, 512, 64, err);
    assert_non_null(c2.get());
    c2->put(key_of(req), two, later());
    (void)dj::shared_cache::lookup(key_of(req), got);  // notices the retirement at the latest here
    assert_true(dj::shared_cache::lookup(key_of(req), got));
    assert_true(got == as_string(two));
    // The old writer going away does not disturb the new file.
    c.reset();
    assert_true(dj::shared_cache::lookup(key_of(req), got));
    // Replaced behind the reader's back (no retirement): re-mapped within
    // the re-check period.
    std::string other = g_dir + "/other";
    auto c3 = dj::SharedCacheWriter::create(other, 512, 64, err);
    assert_non_null(c3.get());
    c3->put(key_of(req), one, later());
    assert_int_equal(rename(other.c_str(), g_path.c_str()), 0);
    usleep(1100 * 1000);
    assert_true(dj::shared_cache::lookup(key_of(req), got));
    assert_true(got == as_string(one));
    // Stopped: retired and removed, every lookup misses.
    c3->unlink_file();
    assert_false(dj::shared_cache::lookup(key_of(req), got));
    assert_false(dj::shared_cache::lookup(key_of(req), got));
}

// A daemon killed without a chance to retire its file: its flock goes with
// it, and readers drop the file at their next check.
void test_killed_writer(void**) {
    auto req = request(dj::proto::Op::GrByName, "staff");
    auto frame = group_frame("staff", 7, 1);
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        std::string err;
        auto c = dj::SharedCacheWriter::create(g_path, 512, 64, err);
        if (c) c->put(key_of(req), frame, later());
        char b = c ? 1 : 0;
        if (write(pipefd[1], &b, 1) != 1) _exit(1);
        pause();
        _exit(0);
    }
    char b = 0;
    assert_int_equal(read(pipefd[0], &b, 1), 1);
    assert_int_equal(b, 1);
    dj::shared_cache::reset();
    std::string got;
    assert_true(dj::shared_cache::lookup(key_of(req), got));
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    close(pipefd[0]);
    close(pipefd[1]);
    usleep(1100 * 1000);   // the next identity check
    assert_false(dj::shared_cache::lookup(key_of(req), got));
    dj::shared_cache::reset();
    assert_false(dj::shared_cache::lookup(key_of(req), got));
    unlink(g_path.c_str());
}

void test_owner_and_mode(void**) {
    auto c = make();
    auto req = request(dj::proto::Op::GrByName, "staff");
    auto frame = group_frame("staff", 5, 1);
    c->put(key_of(req), frame, later());
    std::string got;
    assert_true(dj::shared_cache::lookup(key_of(req), got));
    assert_int_equal(chmod(g_path.c_str(), 0666), 0);
    dj::shared_cache::reset();
    assert_false(dj::shared_cache::lookup(key_of(req), got));
    assert_int_equal(chmod(g_path.c_str(), 0644), 0);
    if (geteuid() == 0) {
        assert_int_equal(chown(g_path.c_str(), 12345, 12345), 0);
        dj::shared_cache::reset();
        assert_false(dj::shared_cache::lookup(key_of(req), got));
        assert_int_equal(chown(g_path.c_str(), 0, 0), 0);
    }
    dj::shared_cache::reset();
    assert_true(dj::shared_cache::lookup(key_of(req), got));
}

// Flipped bytes anywhere in a live file: a lookup answers right or misses.
void test_corrupt_bytes(void**) {
    auto c = make(16);
    std::vector<std::string> keys;
    std::vector<std::vector<uint8_t>> frames;
    for (int i = 0; i < 12; ++i) {
        keys.push_back(key_of(request(dj::proto::Op::GrByName, "g" + std::to_string(i))));
        frames.push_back(group_frame("g" + std::to_string(i), uint32_t(i), i % 5));
    }
    struct stat st {};
    uint8_t* p = map_for_writing(st);
    std::mt19937 rng(42);
    std::string got;
    int right = 0;
    for (int round = 0; round < 3000; ++round) {
        for (size_t i = 0; i < keys.size(); ++i) c->put(keys[i], frames[i], later());
        int flips = 1 + int(rng() % 4);
        for (int f = 0; f < flips; ++f) {
            size_t off = rng() % size_t(st.st_size);
            if (round % 3 == 0) off = rng() % 64;                         // the header
            p[off] = uint8_t(rng());
        }
        if (round % 7 == 0) dj::shared_cache::reset();  // map the damaged header too
        for (size_t i = 0; i < keys.size(); ++i)
            if (dj::shared_cache::lookup(keys[i], got)) {
                assert_true(got == as_string(frames[i]));
                ++right;
            }
        // Repair the header so the writer keeps working.
        auto* h = reinterpret_cast<dj::shared_cache::Header*>(p);
        h->magic = dj::shared_cache::kMagic;
        h->version = dj::shared_cache::kVersion;
        h->header_size = 64;
        h->slot_size = 512;
        h->slot_count = 16;
        h->file_size = 64 + 512 * 16;
        h->retired = 0;
        if (round % 7 == 0) dj::shared_cache::reset();
    }
    munmap(p, size_t(st.st_size));
    assert_true(right > 0);
}

// Publishing an entry the slot already holds intact writes nothing (readers
// keep their cache lines); a damaged copy is written again.
void test_republish(void**) {
    auto c = make(16);
    auto req = request(dj::proto::Op::GrByName, "staff");
    auto frame = group_frame("staff", 200001, 3);
    const int64_t expires = later();
    c->put(key_of(req), frame, expires);
    struct stat st {};
    uint8_t* p = map_for_writing(st);
    const std::vector<uint8_t> before(p, p + st.st_size);
    c->put(key_of(req), frame, expires);
    assert_true(std::vector<uint8_t>(p, p + st.st_size) == before);  // not even the sequence number moved
    // Damage the stored answer: readers refuse it, the next publication repairs it.
    const std::string body = as_string(frame);
    auto at = std::search(p, p + st.st_size, body.begin() + 8, body.end());
    assert_true(at != p + st.st_size);
    *at ^= 0x55;
    std::string got;
    assert_false(dj::shared_cache::lookup(key_of(req), got));
    c->put(key_of(req), frame, expires);
    assert_true(dj::shared_cache::lookup(key_of(req), got));
    assert_true(got == body);
    // A new expiry is written.
    c->put(key_of(req), frame, expires + 1);
    assert_true(std::vector<uint8_t>(p, p + st.st_size) != before);
    munmap(p, size_t(st.st_size));
}

// Files of random bytes (some with a valid-looking header): never a crash,
// never a hit.
void test_random_files(void**) {
    std::mt19937 rng(7);
    std::string got;
    auto key = key_of(request(dj::proto::Op::PwByName, "root"));
    for (int round = 0; round < 400; ++round) {
        size_t size = rng() % 3 == 0 ? size_t(rng() % 200) : 64 + 512 * 16;
        std::vector<uint8_t> bytes(size);
        for (auto& b : bytes) b = uint8_t(rng());
        if (size >= 64 && round % 2 == 0) {
            dj::shared_cache::Header h{};
            h.magic = dj::shared_cache::kMagic;
            h.version = dj::shared_cache::kVersion;
            h.header_size = 64;
            h.slot_size = round % 4 == 0 ? 512 : uint32_t(rng());
            h.slot_count = round % 4 == 0 ? 16 : uint32_t(rng());
            h.file_size = round % 4 == 0 ? 64 + 512 * 16 : rng();
            h.generation = rng() % 2;
            std::memcpy(bytes.data(), &h, sizeof h);
        }
        std::string tmp = g_dir + "/rand";
        int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, bytes.data(), bytes.size()), ssize_t(bytes.size()));
        close(fd);
        assert_int_equal(rename(tmp.c_str(), g_path.c_str()), 0);
        dj::shared_cache::reset();
        assert_false(dj::shared_cache::lookup(key, got));
    }
    unlink(g_path.c_str());
}

// Readers racing the writer over the same slots never see a torn record.
void test_torn_reads(void**) {
    auto c = make(2);
    auto key = key_of(request(dj::proto::Op::GrByName, "race"));
    auto a = group_frame("race", 1, 2), b = group_frame("race", 1, 9);
    std::atomic<bool> stop{false};
    std::atomic<long> hits{0};
    std::atomic<int> bad{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 3; ++t)
        readers.emplace_back([&] {
            std::string got;
            while (!stop.load()) {
                if (dj::shared_cache::lookup(key, got)) {
                    ++hits;
                    if (got != as_string(a) && got != as_string(b)) ++bad;
                }
            }
        });
    for (int i = 0; i < 200000; ++i) c->put(key, i % 2 ? a : b, later());
    stop = true;
    for (auto& t : readers) t.join();
    assert_int_equal(bad.load(), 0);
    assert_true(hits.load() > 0);
}

// The staleness verdict alone.
void test_heartbeat_verdict(void**) {
    using dj::shared_cache::heartbeat_stale;
    const int64_t s = 1000000000;
    const int64_t now = 5000 * s;
    const uint32_t now_s = 1800000000u;
    // Fresh, up to the bound; stale past it by both clocks.
    assert_false(heartbeat_stale(uint64_t(now), now_s, now, now_s));
    assert_false(heartbeat_stale(uint64_t(now - 2 * s), now_s - 2, now, now_s));
    assert_true(heartbeat_stale(uint64_t(now - 2 * s - 1), now_s - 2, now, now_s));
    assert_true(heartbeat_stale(uint64_t(now - 3600 * s), now_s - 3600, now, now_s));
    // Stamped between the reader's clock read and its read of the stamp.
    assert_false(heartbeat_stale(uint64_t(now + s / 2), now_s, now, now_s));
    // The realtime clock disagrees (set back, or stamped a moment ago by it):
    // not stale.
    assert_false(heartbeat_stale(uint64_t(now - 10 * s), now_s, now, now_s));
    assert_false(heartbeat_stale(uint64_t(now - 10 * s), now_s + 100, now, now_s));
    assert_false(heartbeat_stale(uint64_t(now - 10 * s), now_s - 1, now, now_s));
    // Far ahead of this clock (another time namespace, garbage): realtime decides.
    assert_false(heartbeat_stale(uint64_t(now + 10 * s), now_s, now, now_s));
    assert_true(heartbeat_stale(uint64_t(now + 10 * s), now_s - 5, now, now_s));
    assert_false(heartbeat_stale(~uint64_t(0), now_s, now, now_s));
    // A reader far ahead of the daemon's monotonic clock (another time
    // namespace): realtime says fresh, so not stale.
    assert_false(heartbeat_stale(uint64_t(s), now_s, now, now_s));
    // Realtime wraps at 2^32 seconds.
    assert_true(heartbeat_stale(uint64_t(now - 3 * s), 0xfffffffeu, now, 1u));
    assert_false(heartbeat_stale(uint64_t(now - 3 * s), 0xffffffffu, now, 0u));
    // Never stamped: no verdict.
    assert_false(heartbeat_stale(0, now_s - 100, now, now_s));
    assert_false(heartbeat_stale(uint64_t(now - 100 * s), 0, now, now_s));
}

// daemon_stalled on a real file, read through the mapping and without it.
void test_heartbeat_file(void**) {
    auto c = make();
    const std::string sock = g_dir + "/socket";
    auto key = key_of(request(dj::proto::Op::PwByName, "nobody-here"));
    std::string got;
    // Both ways of reading: pread (nothing mapped), then the mapping.
    auto stalled_both = [&](bool want) {
        dj::shared_cache::reset();
        assert_int_equal(dj::shared_cache::daemon_stalled(sock), want);
        (void)dj::shared_cache::lookup(key, got);  // maps the file
        assert_int_equal(dj::shared_cache::daemon_stalled(sock), want);
    };
    stalled_both(false);  // stamped at creation
    struct stat st {};
    uint8_t* p = map_for_writing(st);
    auto* h = reinterpret_cast<dj::shared_cache::Header*>(p);
    auto age = [&](int64_t ns, uint32_t secs) {
        h->beat_ns = uint64_t(dj::shared_cache::monotonic_ns() - ns);
        h->beat_s = dj::shared_cache::realtime_s() - secs;
    };
    age(3000000000, 3);
    stalled_both(true);
    // Another socket's file is not this one.
    assert_false(dj::shared_cache::daemon_stalled(g_dir + "/other/socket"));
    // The daemon stamps again: fresh at once, nothing sticks.
    usleep(300 * 1000);  // half an interval since the last stamp
    c->beat(dj::shared_cache::monotonic_ns());
    stalled_both(false);
    // Clocks that disagree: no verdict.
    age(3000000000, 0);
    stalled_both(false);
    // A file anybody could have written is not believed.
    age(3000000000, 3);
    assert_int_equal(chmod(g_path.c_str(), 0666), 0);
    stalled_both(false);
    assert_int_equal(chmod(g_path.c_str(), 0644), 0);
    stalled_both(true);
    // Retired (the daemon stopped, or a new one replaced the file): no verdict.
    c->retire();
    stalled_both(false);
    munmap(p, size_t(st.st_size));
    unlink(g_path.c_str());
}

// A killed daemon's file: its lock is gone, so its heartbeat is not read
// (the socket refuses at once anyway).
void test_heartbeat_killed_writer(void**) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        std::string err;
        auto c = dj::SharedCacheWriter::create(g_path, 512, 64, err);
        if (!c) _exit(1);
        raise(SIGSTOP);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
    assert_true(WIFSTOPPED(status));
    struct stat st {};
    uint8_t* p = map_for_writing(st);
    auto* h = reinterpret_cast<dj::shared_cache::Header*>(p);
    h->beat_ns = uint64_t(dj::shared_cache::monotonic_ns() - 3000000000);
    h->beat_s = dj::shared_cache::realtime_s() - 3;
    dj::shared_cache::reset();
    assert_true(dj::shared_cache::daemon_stalled(g_dir + "/socket"));  // stopped: still locked
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    assert_false(dj::shared_cache::daemon_stalled(g_dir + "/socket"));
    munmap(p, size_t(st.st_size));
    unlink(g_path.c_str());
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_flush_and_expiry),
        cmocka_unit_test(test_put_after_flush_is_dropped),
        cmocka_unit_test(test_drop_by_tag),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_only_found_and_wiped),
        cmocka_unit_test(test_retired_and_replaced),
        cmocka_unit_test(test_killed_writer),
        cmocka_unit_test(test_owner_and_mode),
        cmocka_unit_test(test_corrupt_bytes),
        cmocka_unit_test(test_republish),
        cmocka_unit_test(test_random_files),
        cmocka_unit_test(test_torn_reads),
        cmocka_unit_test(test_heartbeat_verdict),
        cmocka_unit_test(test_heartbeat_file),
        cmocka_unit_test(test_heartbeat_killed_writer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
