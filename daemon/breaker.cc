#include "daemon/breaker.h"

#include <algorithm>

namespace dj::db {

Breaker::Breaker(Clock::duration first_backoff, Clock::duration max_backoff)
    : first_(first_backoff), max_(std::max(first_backoff, max_backoff)) {}

Breaker::Clock::duration Breaker::backoff() const {
    Clock::duration d = first_;
    for (int i = 0; i < failed_probes_ && d < max_; ++i) d *= 2;
    return std::min(d, max_);
}

Breaker::Change Breaker::succeeded() {
    if (!open_) return Change::None;
    open_ = false;
    failed_probes_ = 0;
    return Change::Closed;
}

Breaker::Change Breaker::failed(Clock::time_point now) {
    // While open, the failures of calls that started before it opened change
    // nothing: the probes set the pace.
    if (open_) return Change::None;
    open_ = true;
    failed_probes_ = 0;
    times_opened_++;
    opened_at_ = now;
    next_probe_ = now + backoff();
    return Change::Opened;
}

bool Breaker::claim_probe(Clock::time_point now) {
    if (!open_ || probing_ || now < next_probe_) return false;
    probing_ = true;
    return true;
}

Breaker::Change Breaker::probe_done(bool reached, Clock::time_point now) {
    probing_ = false;
    if (reached) return succeeded();
    if (!open_) return failed(now);  // closed meanwhile by another call: open again
    failed_probes_++;
    next_probe_ = now + backoff();
    return Change::None;
}

}  // namespace dj::db
