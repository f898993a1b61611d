// daemon/throttle.cc: pam_faillock-style counting per user and per client,
// the failure window, unlock time, lock until reset, success clearing the
// user's count, the client key rules, and the bounded table.
#include <chrono>
#include <cstdint>
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
    assert_true(t.locked("d", c, what, t0) > 0);
    assert_string_equal(what, "client");
    assert_int_equal(t.locked("d", "uid=34", what, t0), 0);   // the user is not locked elsewhere
    assert_true(t.reset("client", c));
    assert_int_equal(t.locked("d", c, what, t0), 0);
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
    assert_true(t.size() <= 10);
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
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
