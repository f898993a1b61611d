// daemon/offline_store.cc: offline credentials kept after an online login,
// checked, expired after max_days, dropped when the user is seen gone,
// inactive or with another hash; the file: round trip through a new store,
// mode 0600, no password or hash in it, corrupt or unsafe files handled;
// and the cache's stale entries (daemon/cache.cc get_stale).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "daemon/cache.h"
#include "daemon/offline_store.h"

// cmocka last: its macros (fail, ...) must not meet the C++ headers.
extern "C" {
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
}

using namespace dj;
using Check = OfflineStore::Check;

namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t t0 = 1700000000;

struct Dir {
    std::filesystem::path path;
    Dir() {
        char tmpl[] = "/tmp/djtest-offline-XXXXXX";
        path = mkdtemp(tmpl);
        chmod(path.c_str(), 0700);
    }
    ~Dir() { std::filesystem::remove_all(path); }
    std::string file() const { return (path / "offline-credentials").string(); }
    std::string text() const {
        std::ifstream in(file());
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }
};

db::UserRow user(int64_t id, const char* name, const char* hash, bool active = true) {
    db::UserRow u;
    u.id = id;
    u.username = name;
    u.password = hash;
    u.is_active = active;
    return u;
}

const std::vector<db::GroupRow> kGroups = {{1, "devs"}, {7, "with space"}};

void remember(OfflineStore& s, const db::UserRow& u, const char* pw, int64_t now = t0) {
    std::string error;
    assert_true(s.remember(u, pw, kGroups, now, error));
    assert_true(error.empty());
}

void test_add_verify(void**) {
    OfflineStore s("", 3);
    assert_true(s.usable());
    auto alice = user(1, "alice", "pbkdf2_sha256$1$salt$hash");
    remember(s, alice, "alice-pw");
    assert_int_equal(s.size(), 1);
    assert_int_equal(s.verify("alice", "alice-pw", t0 + 60), Check::Match);
    assert_int_equal(s.verify("alice", "alice-pX", t0 + 60), Check::Mismatch);
    assert_int_equal(s.verify("alice", "", t0 + 60), Check::Mismatch);
    assert_int_equal(s.verify("bob", "alice-pw", t0 + 60), Check::NoRecord);
    assert_int_equal(s.verify("ALICE", "alice-pw", t0 + 60), Check::NoRecord);  // the stored name only
    auto rec = s.find("alice", t0);
    assert_true(rec.has_value());
    assert_int_equal(rec->user_id, 1);
    assert_int_equal(rec->groups.size(), 2);
    assert_string_equal(rec->groups[1].name.c_str(), "with space");
    // The same hash within the hour: nothing to redo.
    assert_true(s.current(alice, t0 + 60));
    assert_false(s.current(alice, t0 + OfflineStore::kTouchSeconds));
    assert_false(s.current(user(1, "alice", "other"), t0 + 60));
}

void test_expire(void**) {
    OfflineStore s("", 3);
    remember(s, user(1, "alice", "h1"), "pw");
    remember(s, user(2, "bob", "h2"), "pw", t0 + 2 * kDay);
    assert_int_equal(s.verify("alice", "pw", t0 + 3 * kDay), Check::Match);
    assert_int_equal(s.verify("alice", "pw", t0 + 3 * kDay + 1), Check::Expired);
    assert_false(s.find("alice", t0 + 3 * kDay + 1).has_value());
    std::string error;
    assert_true(s.expire(t0 + 3 * kDay + 1, error));
    assert_int_equal(s.size(), 1);
    assert_int_equal(s.verify("alice", "pw", t0), Check::NoRecord);
    assert_int_equal(s.verify("bob", "pw", t0 + 3 * kDay + 1), Check::Match);
    // A renewed login renews the record.
    remember(s, user(2, "bob", "h2"), "pw", t0 + 4 * kDay);
    assert_int_equal(s.verify("bob", "pw", t0 + 6 * kDay), Check::Match);
}

void test_drop(void**) {
    OfflineStore s("", 3);
    std::string error;
    remember(s, user(1, "alice", "h1"), "pw");
    remember(s, user(2, "bob", "h2"), "pw");
    remember(s, user(3, "carol", "h3"), "pw");
    remember(s, user(4, "dave", "h4"), "pw");
    // Seen as before: kept. A row read without its hash: kept.
    assert_false(s.seen("alice", user(1, "alice", "h1"), error));
    assert_false(s.seen("alice", user(1, "alice", ""), error));
    // Another hash, inactive, gone, renamed: dropped.
    assert_true(s.seen("alice", user(1, "alice", "h1-new"), error));
    assert_true(s.seen("bob", user(2, "bob", "h2", false), error));
    assert_true(s.seen("carol", std::nullopt, error));
    auto fp = OfflineStore::fingerprint("h4");
    assert_false(s.seen("dave", user(4, "dave", ""), error, &fp));
    assert_true(s.seen("dave", user(4, "david", "h4"), error));
    assert_int_equal(s.size(), 0);
    remember(s, user(5, "erin", "h5"), "pw");
    assert_true(s.forget(5, error));
    assert_false(s.forget(5, error));
    assert_true(error.empty());
}

void test_bounded(void**) {
    OfflineStore s("", 3, 2);
    remember(s, user(1, "a", "h"), "pw", t0);
    remember(s, user(2, "b", "h"), "pw", t0 + 2);
    remember(s, user(3, "c", "h"), "pw", t0 + 1);
    assert_int_equal(s.size(), 2);
    assert_int_equal(s.verify("a", "pw", t0 + 3), Check::NoRecord);  // the oldest login went
}

void test_file_round_trip(void**) {
    Dir d;
    {
        OfflineStore s(d.file(), 3);
        std::string error;
        assert_true(s.load(error));  // no file yet
        remember(s, user(1, "alice", "pbkdf2_sha256$1000$salt$AAAAhash"), "alice-secret-pw");
        remember(s, user(2, "b\tob\n", "argon2$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA"), "bob-secret-pw");
    }
    struct stat st;
    assert_int_equal(stat(d.file().c_str(), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_uid, geteuid());
    const std::string text = d.text();
    for (const char* secret : {"alice-secret-pw", "bob-secret-pw", "pbkdf2_sha256", "AAAAhash", "argon2id", "aGFzaA"})
        assert_true(text.find(secret) == std::string::npos);
    assert_false(std::filesystem::exists(d.file() + ".new"));
    OfflineStore again(d.file(), 3);
    std::string error;
    assert_true(again.load(error));
    assert_int_equal(again.size(), 2);
    assert_int_equal(again.verify("alice", "alice-secret-pw", t0), Check::Match);
    assert_int_equal(again.verify("b\tob\n", "bob-secret-pw", t0), Check::Match);
    assert_int_equal(again.verify("alice", "bob-secret-pw", t0), Check::Mismatch);
    assert_true(again.find("alice", t0)->groups.size() == 2);
}

void test_corrupt_file(void**) {
    Dir d;
    {
        OfflineStore s(d.file(), 3);
        std::string error;
        assert_true(s.load(error));
        remember(s, user(1, "alice", "h1"), "pw");
        remember(s, user(2, "bob", "h2"), "pw");
    }
    // One line broken, one cut short: the rest is kept.
    std::string text = d.text();
    const size_t first = text.find('\n') + 1;
    text[first + 2] = 'Z';
    text += "7 zz 1\n";
    std::ofstream(d.file(), std::ios::trunc) << text;
    {
        OfflineStore s(d.file(), 3);
        std::string error;
        assert_false(s.load(error));
        assert_true(error.find("malformed") != std::string::npos);
        assert_true(s.usable());
        assert_true(s.size() <= 1);
    }
    // Not ours at all: nothing read, replaced at the next write.
    std::ofstream(d.file(), std::ios::trunc) << "garbage\n\x01\x02";
    {
        OfflineStore s(d.file(), 3);
        std::string error;
        assert_false(s.load(error));
        assert_int_equal(s.size(), 0);
        remember(s, user(3, "carol", "h3"), "pw");
        OfflineStore again(d.file(), 3);
        assert_true(again.load(error = {}));
        assert_int_equal(again.verify("carol", "pw", t0), Check::Match);
    }
    // Readable by others, or a link: not used, and nothing written.
    chmod(d.file().c_str(), 0644);
    {
        OfflineStore s(d.file(), 3);
        std::string error;
        assert_false(s.load(error));
        assert_false(s.usable());
        remember(s, user(4, "dave", "h4"), "pw");
    }
    std::filesystem::remove(d.file());
    std::filesystem::create_symlink("/etc/passwd", d.file());
    {
        OfflineStore s(d.file(), 3);
        std::string error;
        assert_false(s.load(error));
        assert_false(s.usable());
    }
    // A directory others may write in: not used.
    std::filesystem::remove(d.file());
    chmod(d.path.c_str(), 0777);
    {
        OfflineStore s(d.file(), 3);
        std::string error;
        assert_false(s.load(error));
        assert_true(error.find("writable") != std::string::npos);
        assert_false(s.usable());
    }
}

void test_cache_stale(void**) {
    Cache c(std::chrono::seconds(10), std::chrono::seconds(1), 2, 1000);
    auto t = Cache::Clock::now();
    std::vector<uint8_t> v(10, 1);
    c.put("a", v, true, t);
    assert_false(c.get("a", t + std::chrono::seconds(11)).has_value());  // expired: not served
    assert_true(c.get_stale("a").has_value());                           // but kept
    c.put("b", v, true, t);
    c.put("c", v, true, t);   // the bound still holds: the least recent goes
    assert_false(c.get_stale("a").has_value());
    assert_int_equal(c.stats().entries, 2);
    // Changes may be missed (the watcher lost the database): nothing is
    // fresh any more, and the answers stay for an outage.
    assert_true(c.get("b", t).has_value());
    c.expire_all();
    assert_false(c.get("b", t).has_value());
    assert_true(c.get_stale("b").has_value());
    c.flush();   // a flush really removes
    assert_false(c.get_stale("b").has_value());
    assert_false(c.get_stale("c").has_value());
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_verify),   cmocka_unit_test(test_expire),
        cmocka_unit_test(test_drop),         cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_file_round_trip), cmocka_unit_test(test_corrupt_file),
        cmocka_unit_test(test_cache_stale),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
