// daemon/log.cc: the rate limiter for lines callers cause (per uid and kind:
// a burst written, the rest counted, one summary when the window ends; the
// table bounded), and the choice of one sink (JOURNAL_STREAM).
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "daemon/log.h"

// cmocka last: its macros (fail, ...) must not meet the C++ headers.
extern "C" {
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
}

using namespace dj::log;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

const char kA[] = "kind a %u", kB[] = "kind b %u";

void test_burst_then_counted_then_summary(void**) {
    RateLimiter rl(3, seconds(5), 100);
    auto t0 = RateLimiter::Clock::now();
    std::vector<RateLimiter::Summary> due;
    int written = 0;
    for (int i = 0; i < 100; ++i)
        written += rl.admit(1000, kA, "line " + std::to_string(i), t0 + milliseconds(10 * i), due);
    assert_int_equal(written, 3);
    assert_true(due.empty());
    // Another uid, or another kind of line, has a burst of its own.
    assert_true(rl.admit(1001, kA, "x", t0, due));
    assert_true(rl.admit(1000, kB, "y", t0, due));
    rl.expire(t0 + seconds(4), due);
    assert_true(due.empty());
    rl.expire(t0 + seconds(5), due);
    assert_int_equal(due.size(), 1);  // the others left nothing out
    assert_int_equal(due[0].uid, 1000);
    assert_int_equal(due[0].count, 97);
    assert_int_equal(due[0].seconds, 5);
    assert_string_equal(due[0].line.c_str(), "line 99");
    assert_int_equal(rl.keys(), 0);
    // A new window: a new burst.
    due.clear();
    assert_true(rl.admit(1000, kA, "again", t0 + seconds(6), due));
}

void test_summary_when_the_next_line_opens_a_window(void**) {
    RateLimiter rl(1, seconds(5), 100);
    auto t0 = RateLimiter::Clock::now();
    std::vector<RateLimiter::Summary> due;
    assert_true(rl.admit(7, kA, "a", t0, due));
    assert_false(rl.admit(7, kA, "b", t0 + seconds(1), due));
    assert_true(rl.admit(7, kA, "c", t0 + seconds(6), due));
    assert_int_equal(due.size(), 1);
    assert_int_equal(due[0].count, 1);
    assert_string_equal(due[0].line.c_str(), "b");
}

void test_table_is_bounded(void**) {
    RateLimiter rl(1, seconds(5), 10);
    auto t0 = RateLimiter::Clock::now();
    std::vector<RateLimiter::Summary> due;
    int written = 0;
    for (unsigned uid = 0; uid < 1000; ++uid) written += rl.admit(uid, kA, "z", t0, due);
    assert_int_equal(written, 10);
    assert_int_equal(rl.keys(), 10);
    rl.expire(t0 + seconds(5), due);
    assert_int_equal(due.size(), 1);  // the 990 callers past the bound, together
    assert_int_equal(due[0].uid, static_cast<uid_t>(-1));
    assert_int_equal(due[0].count, 990);
    assert_int_equal(rl.keys(), 0);
}

void test_one_sink(void**) {
    char path[] = "/tmp/log-sink-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    char js[64];
    snprintf(js, sizeof js, "%llu:%llu", static_cast<unsigned long long>(st.st_dev),
             static_cast<unsigned long long>(st.st_ino));
    // Detached: syslog. In the foreground: stderr, unless it is the journal.
    assert_true(choose_sink(false, nullptr, fd) == Sink::Syslog);
    assert_true(choose_sink(true, nullptr, fd) == Sink::Stderr);
    assert_true(choose_sink(true, js, fd) == Sink::Syslog);
    assert_true(choose_sink(true, "1:2", fd) == Sink::Stderr);
    assert_true(choose_sink(true, "garbage", fd) == Sink::Stderr);
    close(fd);
    unlink(path);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_counted_then_summary),
        cmocka_unit_test(test_summary_when_the_next_line_opens_a_window),
        cmocka_unit_test(test_table_is_bounded),
        cmocka_unit_test(test_one_sink),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
