// The database circuit breaker's state machine: whether requests may ask the
// database, and when the next probe may try it. No clock, no lock and no I/O
// of its own (GuardedDatabase, guarded_db.h, brings them), so that tests drive
// it with made-up times.
//
// Closed: every request asks the database. The first call that fails to reach
// it (a connect or statement that failed or timed out) opens the breaker.
// Open: requests are refused at once, and one probe at a time may try the
// database: the first `first_backoff` after the failure, then after each
// failed probe twice as long as before, at most `max_backoff`. The first
// call that reaches the database again (a probe's, or one that was under way
// when the breaker opened) closes it.
#pragma once

#include <chrono>
#include <cstdint>

namespace dj::db {

class Breaker {
public:
    using Clock = std::chrono::steady_clock;
    // What a recorded outcome changed.
    enum class Change { None, Opened, Closed };

    explicit Breaker(Clock::duration first_backoff = std::chrono::seconds(1),
                     Clock::duration max_backoff = std::chrono::seconds(2));

    bool open() const { return open_; }
    // A call reached the database (it answered, even with an SQL error).
    Change succeeded();
    // A call failed to reach it at `now` (a request's, not a probe's).
    Change failed(Clock::time_point now);

    // Whether a probe may try the database now; true claims the one probe
    // slot until probe_done().
    bool claim_probe(Clock::time_point now);
    // The claimed probe's outcome.
    Change probe_done(bool reached, Clock::time_point now);

    // When the breaker opened (meaningless while closed), when the next
    // probe is due, how many probes failed in a row, how often it opened.
    Clock::time_point opened_at() const { return opened_at_; }
    Clock::time_point next_probe() const { return next_probe_; }
    int failed_probes() const { return failed_probes_; }
    uint64_t times_opened() const { return times_opened_; }

private:
    Clock::duration backoff() const;

    Clock::duration first_, max_;
    bool open_ = false;
    bool probing_ = false;
    int failed_probes_ = 0;
    uint64_t times_opened_ = 0;
    Clock::time_point opened_at_{}, next_probe_{};
};

}  // namespace dj::db
