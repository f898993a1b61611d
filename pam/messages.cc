// Conversation texts; see messages.h.
#include "pam/messages.h"

namespace dj::pam {

namespace {

std::string count(uint64_t n, const char* unit) {
    return std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
}

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

}  // namespace

std::string format_duration(uint32_t seconds) {
    constexpr uint64_t kMinute = 60, kHour = 60 * kMinute, kDay = 24 * kHour;
    const uint64_t s = seconds;
    if (s < kMinute) return count(s, "second");
    // 59 min 30 s is "1 hour", not "60 minutes"
    if (uint64_t m = ceil_div(s, kMinute); m < 60) return count(m, "minute");
    if (uint64_t h = ceil_div(s, kHour); h < 24) return count(h, "hour");
    return count(ceil_div(s, kDay), "day");
}

std::string throttled_message(std::optional<uint32_t> left) {
    if (!left) return "Too many failed attempts; try again later.";
    if (*left == kBusy) return "The login service is busy; try again in a moment.";
    if (*left == kUntilReset)
        return "Login locked after too many failed attempts, until an administrator resets it.";
    return "Login temporarily locked after too many failed attempts; try again in " +
           format_duration(*left) + ".";
}

}  // namespace dj::pam
