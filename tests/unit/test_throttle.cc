// daemon/throttle.cc: pam_faillock-style counting per user and per client,
// the failure window, unlock time, lock until reset, success clearing the
// user's count, the client key rules, and the bounded table.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "daemon/throttle.h"

// cmocka last: its macros (fail, ...) must not meet the C++ headers.
extern "C" {
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
}

using namespace dj;
using std::chrono::seconds;

namespace {

ThrottleConfig cfg(int deny, int client_deny, int interval, int unlock, size_t max = 100) {
    ThrottleConfig c;
    c.deny = deny;
    c.client_deny = client_deny;
    c.fail_interval = interval;
    c.unlock_time = unlock;
    c.max_entries = max;
    return c;
}

void test_user_lock_and_unlock(void**) {
    Throttle t(cfg(3, 0, 60, 10));
    auto t0 = Throttle::Clock::now();
    const char* what = "";
    assert_false(t.failure("alice", "", t0));
    assert_false(t.failure("alice", "", t0 + seconds(1)));
    assert_int_equal(t.locked("alice", "", what, t0 + seconds(1)), 0);
    assert_true(t.failure("alice", "", t0 + seconds(2)));
    uint32_t left = t.locked("alice", "", what, t0 + seconds(3));
    assert_true(left >= 9 && left <= 10);
    assert_string_equal(what, "user");
    assert_int_equal(t.locked("bob", "", what, t0 + seconds(3)), 0);   // others unaffected
    assert_int_equal(t.locked("alice", "", what, t0 + seconds(13)), 0);  // unlocked
    assert_false(t.failure("alice", "", t0 + seconds(14)));              // count starts over
}

void test_window_and_success(void**) {
    Throttle t(cfg(3, 0, 10, 10));
    auto t0 = Throttle::Clock::now();
    const char* what = "";
    t.failure("u", "", t0);
    t.failure("u", "", t0 + seconds(1));
    assert_false(t.failure("u", "", t0 + seconds(11)));   // the first fell out of the window
    t.success("u", t0 + seconds(12));
    t.failure("u", "", t0 + seconds(12));
    t.failure("u", "", t0 + seconds(12));
    assert_int_equal(t.locked("u", "", what, t0 + seconds(12)), 0);
    assert_true(t.failure("u", "", t0 + seconds(12)));
}

void test_until_reset(void**) {
    Throttle t(cfg(1, 0, 10, 0));
    auto t0 = Throttle::Clock::now();
    const char* what = "";
    assert_true(t.failure("u", "", t0));
    assert_int_equal(t.locked("u", "", what, t0 + seconds(100000)), UINT32_MAX);
    auto l = t.list("", t0);
    assert_int_equal(l.size(), 1);
    assert_string_equal(l[0].kind.c_str(), "user");
    assert_true(t.reset("user", "u"));
    assert_false(t.reset("user", "u"));
    assert_int_equal(t.locked("u", "", what, t0), 0);
}

void test_client_counts_separately(void**) {
    Throttle t(cfg(5, 3, 60, 60));
    auto t0 = Throttle::Clock::now();
    const char* what = "";
    std::string c = Throttle::client_key(33, "");
    assert_string_equal(c.c_str(), "uid=33");
    assert_string_equal(Throttle::client_key(0, "").c_str(), "");   // root without rhost: not a client
    assert_string_equal(Throttle::client_key(0, "192.0.2.1").c_str(), "uid=0 rhost=192.0.2.1");
    t.failure("a", c, t0);
    t.failure("b", c, t0);
    assert_true(t.failure("c", c, t0));
    // The locked client is refused for the users who failed from it ...
    for (const char* u : {"a", "b", "c"}) {
        assert_true(t.locked(u, c, what, t0) > 0);
        assert_string_equal(what, "client");
        assert_int_equal(t.locked(u, "uid=34", what, t0), 0);   // not locked elsewhere
    }
    // ... not for a user who has not failed there.
    assert_int_equal(t.locked("d", c, what, t0), 0);
    assert_true(t.reset("client", c));
    assert_int_equal(t.locked("a", c, what, t0), 0);
}

// Behind a reverse proxy every web login has the same rhost: a flood of
// wrong passwords from it must not refuse a user who has not failed.
void test_locked_client_lets_clean_users_in(void**) {
    Throttle t(cfg(10, 50, 900, 600, 1000));
    auto t0 = Throttle::Clock::now();
    const char* what = "";
    const std::string proxy = Throttle::client_key(33, "127.0.0.1");
    for (int i = 0; i < 200; ++i) t.failure("name:victim" + std::to_string(i % 100), proxy, t0);
    assert_true(t.list("", t0).size() > 0);
    // Locked as a client ...
    bool client_locked = false;
    for (const auto& e : t.list("", t0))
        if (e.kind == "client" && e.name == proxy) client_locked = e.locked_for > 0;
    assert_true(client_locked);
    // ... but a user with no failure is checked at once, whatever others did.
    assert_int_equal(t.locked("id:7", proxy, what, t0 + seconds(1)), 0);
    // A user who failed from there stays refused, no matter how few failures.
    assert_false(t.failure("id:8", proxy, t0 + seconds(2)));
    assert_true(t.locked("id:8", proxy, what, t0 + seconds(3)) > 0);
    assert_string_equal(what, "client");
    // Spraying gets one guess per user per fail_interval: the first guesses
    // after the lock are refused from then on.
    for (int i = 0; i < 100; ++i) {
        const std::string u = "name:victim" + std::to_string(i);
        assert_true(t.locked(u, proxy, what, t0 + seconds(4)) > 0);
    }
    // From elsewhere the failed user is not refused (deny = 10 not reached).
    assert_int_equal(t.locked("id:8", Throttle::client_key(33, "192.0.2.9"), what, t0 + seconds(4)), 0);
    // After fail_interval the user's failure no longer counts there.
    assert_true(t.locked("id:8", proxy, what, t0 + seconds(500)) > 0);
    assert_int_equal(t.locked("id:8", proxy, what, t0 + seconds(903)), 0);
}

// The user is counted by the key the database resolved: every spelling that
// resolves to the same id shares one count; a typed name never collides
// with an id.
void test_user_key(void**) {
    assert_string_equal(Throttle::user_key(42, "Alice").c_str(), "id:42");
    assert_string_equal(Throttle::user_key(std::nullopt, "alice").c_str(), "name:alice");
    assert_string_equal(Throttle::user_key(std::nullopt, "id:42").c_str(), "name:id:42");
    Throttle t(cfg(3, 0, 60, 60));
    auto t0 = Throttle::Clock::now();
    const char* what = "";
    t.failure(Throttle::user_key(42, "alice"), "", t0, "alice");
    t.failure(Throttle::user_key(42, "ALICE"), "", t0, "alice");
    assert_int_equal(t.locked(Throttle::user_key(42, "Alice"), "", what, t0), 0);
    assert_true(t.failure(Throttle::user_key(42, "Alice"), "", t0, "alice"));
    assert_true(t.locked(Throttle::user_key(42, "aLiCe"), "", what, t0) > 0);
    assert_int_equal(t.locked(Throttle::user_key(std::nullopt, "id:42"), "", what, t0), 0);
    // Listed and reset by its name.
    auto l = t.list("alice", t0);
    assert_int_equal(l.size(), 1);
    assert_string_equal(l[0].name.c_str(), "alice");
    assert_int_equal(l[0].failures, 3);
    assert_true(t.reset("user", "alice"));
    assert_int_equal(t.locked(Throttle::user_key(42, "alice"), "", what, t0), 0);
    assert_int_equal(t.size(), 0);
}

// Filling the table never drops an active lockout: unlocked records go
// first, expired locks next; when only active lockouts remain, new records
// wait.
void test_eviction_keeps_lockouts(void**) {
    Throttle t(cfg(2, 0, 600, 60, 10));
    auto t0 = Throttle::Clock::now();
    const char* what = "";
    for (int i = 0; i < 5; ++i) {
        t.failure("locked" + std::to_string(i), "", t0);
        assert_true(t.failure("locked" + std::to_string(i), "", t0));
    }
    // Thousands of one-off failures (a flood of fresh names) afterwards.
    for (int i = 0; i < 5000; ++i) t.failure("fresh" + std::to_string(i), "", t0 + seconds(1));
    assert_true(t.size() <= 10);
    for (int i = 0; i < 5; ++i) assert_true(t.locked("locked" + std::to_string(i), "", what, t0 + seconds(2)) > 0);
    // Only lockouts: a new name is not recorded, the lockouts stay.
    for (int i = 0; i < 5; ++i) {
        t.failure("more" + std::to_string(i), "", t0 + seconds(3));
        assert_true(t.failure("more" + std::to_string(i), "", t0 + seconds(3)));
    }
    assert_int_equal(t.size(), 10);
    assert_false(t.failure("newcomer", "", t0 + seconds(4)));
    assert_false(t.failure("newcomer", "", t0 + seconds(4)));
    assert_int_equal(t.locked("newcomer", "", what, t0 + seconds(4)), 0);
    for (int i = 0; i < 5; ++i) assert_true(t.locked("locked" + std::to_string(i), "", what, t0 + seconds(4)) > 0);
    // Once the first locks expire, their room is used again.
    t.failure("newcomer", "", t0 + seconds(62));
    assert_true(t.failure("newcomer", "", t0 + seconds(62)));
    assert_true(t.locked("newcomer", "", what, t0 + seconds(62)) > 0);
    for (int i = 0; i < 5; ++i) assert_true(t.locked("more" + std::to_string(i), "", what, t0 + seconds(62)) > 0);
}

// Made-up names lock as real users do, and a flood of them (or of clients)
// cannot push out (and so reset) a real user's count: each kind has a table
// of its own.
void test_unknown_names_apart(void**) {
    Throttle t(cfg(3, 1000, 600, 60, 10));
    auto t0 = Throttle::Clock::now();
    const char* what = "";
    const std::string real = Throttle::user_key(7, "alice"), ghost = Throttle::user_key(std::nullopt, "ghost");
    for (const auto& k : {real, ghost}) {
        assert_false(t.failure(k, "", t0));
        assert_false(t.failure(k, "", t0));
    }
    for (int i = 0; i < 5000; ++i) t.failure(Throttle::user_key(std::nullopt, "x" + std::to_string(i)), "", t0);
    for (int i = 0; i < 5000; ++i) t.failure(Throttle::user_key(std::nullopt, "y"), "rhost" + std::to_string(i), t0);
    assert_true(t.size() <= 30);
    // the real user's two failures are still there: the third locks
    assert_true(t.failure(real, "", t0 + seconds(1)));
    const uint32_t left = t.locked(real, "", what, t0 + seconds(1));
    assert_true(left >= 60 && left <= 61);
    // a made-up name locks after the same count, for the same time
    for (int i = 0; i < 3; ++i) t.failure(Throttle::user_key(std::nullopt, "fresh"), "", t0 + seconds(1));
    assert_int_equal(t.locked(Throttle::user_key(std::nullopt, "fresh"), "", what, t0 + seconds(1)), left);
}

void test_disabled(void**) {
    Throttle t(cfg(0, 0, 60, 60));
    auto t0 = Throttle::Clock::now();
    const char* what = "";
    for (int i = 0; i < 100; ++i) assert_false(t.failure("u", "uid=1", t0));
    assert_int_equal(t.locked("u", "uid=1", what, t0), 0);
    assert_int_equal(t.size(), 0);
    assert_false(t.enabled());
}

void test_bounded(void**) {
    Throttle t(cfg(2, 2, 60, 60, 10));
    auto t0 = Throttle::Clock::now();
    for (int i = 0; i < 1000; ++i) t.failure("user" + std::to_string(i), "uid=" + std::to_string(i), t0);
    assert_true(t.size() <= 2 * 10);   // users, clients
    // A megabyte name costs no more than a short one.
    std::string big(1 << 20, 'x');
    t.failure(big, "", t0);
    auto l = t.list(big.substr(0, 512), t0);
    assert_int_equal(l.size(), 1);
    assert_int_equal(l[0].name.size(), 512);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_lock_and_unlock), cmocka_unit_test(test_window_and_success),
        cmocka_unit_test(test_until_reset),          cmocka_unit_test(test_client_counts_separately),
        cmocka_unit_test(test_disabled),             cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_locked_client_lets_clean_users_in),
        cmocka_unit_test(test_user_key),
        cmocka_unit_test(test_eviction_keeps_lockouts),
        cmocka_unit_test(test_unknown_names_apart),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
