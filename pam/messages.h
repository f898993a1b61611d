// What pam_django.so tells the user through the conversation when the daemon
// refuses: a lockout and how long it has left, or a busy daemon. Pure text
// functions, so the unit tests drive them directly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace dj::pam {

// The protocol's values of a Throttled answer's u32 (common/protocol.h).
inline constexpr uint32_t kBusy = 0;                 // queue full, no lockout
inline constexpr uint32_t kUntilReset = 0xFFFFFFFFu; // locked until an administrator resets it

// "30 seconds", "1 minute", "4 minutes", "1 hour", "2 days": the largest unit
// that fits, rounded up so the user is never told to come back too early.
std::string format_duration(uint32_t seconds);

// The message for a Throttled answer carrying `left` (nullopt: a daemon that
// sent no time).
std::string throttled_message(std::optional<uint32_t> left);

}  // namespace dj::pam
