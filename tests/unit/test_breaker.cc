// daemon/breaker.cc and daemon/guarded_db.cc: the database circuit breaker.
// The state machine with made-up times (opens on the first failure, one
// probe at a time, backoff doubling up to its cap, closes on the first call
// that reaches the database, never stuck open); and the Database in front of
// a fake one (refusals without a call, SQL errors that do not open it,
// probes that close it, the Stats lines).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "daemon/breaker.h"
#include "daemon/guarded_db.h"

// cmocka last: its macros (fail, ...) must not meet the C++ headers.
extern "C" {
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
}

using namespace dj::db;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Change = Breaker::Change;

namespace {

const Breaker::Clock::time_point t0{seconds(1000)};

void test_closed_until_a_failure(void**) {
    Breaker b(seconds(1), seconds(4));
    assert_false(b.open());
    assert_int_equal(int(b.succeeded()), int(Change::None));
    assert_false(b.claim_probe(t0));  // nothing to probe while closed
    assert_int_equal(int(b.failed(t0)), int(Change::Opened));
    assert_true(b.open());
    assert_int_equal(b.times_opened(), 1);
    assert_true(b.opened_at() == t0);
    // Further failures (calls under way when it opened) change nothing.
    assert_int_equal(int(b.failed(t0 + milliseconds(500))), int(Change::None));
    assert_true(b.next_probe() == t0 + seconds(1));
}

void test_one_probe_at_a_time(void**) {
    Breaker b(seconds(1), seconds(4));
    b.failed(t0);
    assert_false(b.claim_probe(t0 + milliseconds(999)));
    assert_true(b.claim_probe(t0 + seconds(1)));
    assert_false(b.claim_probe(t0 + seconds(1)));   // the first is under way
    assert_false(b.claim_probe(t0 + seconds(30)));  // however long it takes
    assert_int_equal(int(b.probe_done(false, t0 + seconds(6))), int(Change::None));
    assert_true(b.open());
    assert_int_equal(b.failed_probes(), 1);
    // Measured from the end of the failed probe.
    assert_true(b.next_probe() == t0 + seconds(8));
    assert_false(b.claim_probe(t0 + seconds(7)));
    assert_true(b.claim_probe(t0 + seconds(8)));
}

void test_backoff_doubles_to_its_cap(void**) {
    Breaker b(seconds(1), seconds(4));
    b.failed(t0);
    auto now = t0;
    const int expect[] = {2, 4, 4, 4};
    for (int want : expect) {
        now = b.next_probe();
        assert_true(b.claim_probe(now));
        b.probe_done(false, now);
        assert_true(b.next_probe() - now == seconds(want));
    }
}

void test_probe_success_closes_and_resets(void**) {
    Breaker b(seconds(1), seconds(4));
    b.failed(t0);
    for (int i = 0; i < 3; ++i) {
        auto now = b.next_probe();
        assert_true(b.claim_probe(now));
        b.probe_done(false, now);
    }
    auto now = b.next_probe();
    assert_true(b.claim_probe(now));
    assert_int_equal(int(b.probe_done(true, now)), int(Change::Closed));
    assert_false(b.open());
    assert_int_equal(b.failed_probes(), 0);
    assert_false(b.claim_probe(now + seconds(10)));
    // The next outage starts again from the first backoff.
    assert_int_equal(int(b.failed(now + seconds(20))), int(Change::Opened));
    assert_true(b.next_probe() == now + seconds(21));
    assert_int_equal(b.times_opened(), 2);
}

void test_any_call_that_answers_closes(void**) {
    Breaker b(seconds(1), seconds(4));
    b.failed(t0);
    // A request that was under way when it opened, and got its answer.
    assert_int_equal(int(b.succeeded()), int(Change::Closed));
    assert_false(b.open());
    // A probe claimed before that and failing afterwards opens it again.
    b.failed(t0 + seconds(2));
    assert_true(b.claim_probe(t0 + seconds(3)));
    b.succeeded();
    assert_int_equal(int(b.probe_done(false, t0 + seconds(4))), int(Change::Opened));
    assert_true(b.open());
    // And the probe slot was given back.
    assert_true(b.claim_probe(t0 + seconds(5)));
}

void test_repeated_outages_never_stuck(void**) {
    Breaker b(seconds(1), seconds(4));
    auto now = t0;
    for (int outage = 0; outage < 20; ++outage) {
        b.failed(now);
        for (int i = 0; i < outage % 4; ++i) {
            now = b.next_probe();
            assert_true(b.claim_probe(now));
            b.probe_done(false, now + milliseconds(300));
        }
        now = b.next_probe();
        assert_true(b.claim_probe(now));
        assert_int_equal(int(b.probe_done(true, now)), int(Change::Closed));
        assert_false(b.open());
        now += seconds(1);
    }
    assert_int_equal(b.times_opened(), 20);
}

// --- GuardedDatabase in front of a fake ----------------------------------------

// Atomic: the prober thread of GuardedDatabase calls ping() while a test flips
// `down` from the main thread.
struct Fake : Database {
    std::atomic<bool> down{false}, sql_error{false};
    std::atomic<int> calls{0}, pings{0};
    void check() {
        calls++;
        if (down) throw DbUnavailable("fake: timed out");
        if (sql_error) throw DbQueryError("fake: syntax error");
    }
    std::optional<UserRow> user_by_name(std::string_view) override {
        check();
        return UserRow{};
    }
    std::optional<UserRow> user_by_id(int64_t) override { return check(), std::nullopt; }
    std::vector<UserRow> users_after(int64_t, int) override { return check(), std::vector<UserRow>{}; }
    std::vector<std::pair<int64_t, std::string>> passwords_after(int64_t, int) override {
        return check(), std::vector<std::pair<int64_t, std::string>>{};
    }
    std::optional<GroupRow> group_by_name(std::string_view) override { return check(), std::nullopt; }
    std::optional<GroupRow> group_by_id(int64_t) override { return check(), std::nullopt; }
    std::vector<GroupRow> groups_after(int64_t, int) override { return check(), std::vector<GroupRow>{}; }
    std::vector<MemberRow> active_members(int64_t) override { return check(), std::vector<MemberRow>{}; }
    std::vector<GroupRow> groups_of_user(int64_t) override { return check(), std::vector<GroupRow>{}; }
    std::vector<std::string> permissions_of_user(int64_t) override { return check(), std::vector<std::string>{}; }
    std::vector<std::string> keys_of_user(int64_t) override { return check(), std::vector<std::string>{}; }
    void set_password(int64_t, std::string_view) override { check(); }
    void set_last_login(int64_t) override { check(); }
    void ping() override {
        pings++;
        check();
    }
    std::string describe() const override { return "fake"; }
};

bool refused(GuardedDatabase& g) {
    try {
        g.user_by_name("alice");
    } catch (const DbRefused&) {
        return true;
    } catch (const DbUnavailable&) {
        return false;
    }
    return false;
}

bool has_line(const std::string& text, const std::string& line) {
    return text.find(line + "\n") != std::string::npos;
}

void test_guarded_refuses_without_asking(void**) {
    auto owned = std::make_unique<Fake>();
    Fake& fake = *owned;
    // Probes due at once; no thread: the test drives them.
    GuardedDatabase g(std::move(owned), Breaker(milliseconds(0), milliseconds(0)), /*probe=*/false);
    assert_true(g.available());
    assert_true(has_line(g.status_lines(), "database_available yes"));
    assert_true(has_line(g.status_lines(), "database_unavailable_since 0"));
    fake.down = true;
    assert_false(refused(g));  // the first call waits for the database's answer
    assert_int_equal(fake.calls, 1);
    assert_false(g.available());
    for (int i = 0; i < 10; ++i) assert_true(refused(g));
    assert_int_equal(fake.calls, 1);  // none of them asked it
    const std::string s = g.status_lines();
    assert_true(has_line(s, "database_available no"));
    assert_true(has_line(s, "database_error fake: timed out"));
    assert_true(has_line(s, "database_refused 10"));
    assert_true(has_line(s, "database_outages 1"));
    assert_false(has_line(s, "database_unavailable_since 0"));
    // A probe that fails keeps it open; one that answers closes it.
    g.probe_once();
    assert_int_equal(fake.pings, 1);
    assert_false(g.available());
    fake.down = false;
    g.probe_once();
    assert_true(g.available());
    assert_false(refused(g));
    assert_true(has_line(g.status_lines(), "database_available yes"));
}

void test_guarded_sql_error_is_an_answer(void**) {
    auto owned = std::make_unique<Fake>();
    Fake& fake = *owned;
    GuardedDatabase g(std::move(owned), Breaker(), /*probe=*/false);
    fake.sql_error = true;
    for (int i = 0; i < 3; ++i) {
        try {
            g.set_last_login(1);
            fail();
        } catch (const DbRefused&) {
            fail();
        } catch (const DbQueryError&) {
        }
    }
    assert_true(g.available());
    assert_int_equal(fake.calls, 3);
}

void test_guarded_prober_thread_closes(void**) {
    auto owned = std::make_unique<Fake>();
    Fake& fake = *owned;
    GuardedDatabase g(std::move(owned), Breaker(milliseconds(10), milliseconds(20)));
    fake.down = true;
    try {
        g.ping();
    } catch (const DbUnavailable&) {
    }
    assert_false(g.available());
    fake.down = false;
    // The thread probes on its own within a few ticks (bounded wait).
    for (int i = 0; i < 300 && !g.available(); ++i) std::this_thread::sleep_for(milliseconds(10));
    assert_true(g.available());
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_until_a_failure),
        cmocka_unit_test(test_one_probe_at_a_time),
        cmocka_unit_test(test_backoff_doubles_to_its_cap),
        cmocka_unit_test(test_probe_success_closes_and_resets),
        cmocka_unit_test(test_any_call_that_answers_closes),
        cmocka_unit_test(test_repeated_outages_never_stuck),
        cmocka_unit_test(test_guarded_refuses_without_asking),
        cmocka_unit_test(test_guarded_sql_error_is_an_answer),
        cmocka_unit_test(test_guarded_prober_thread_closes),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
