// What the files of Handler (handlers*.cc) share; no other code includes it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/handlers.h"

namespace dj::handler_internal {

using proto::Op;
using proto::Status;

inline Reply status_only(Op op, Status s, bool close = false) {
    proto::Writer w(op, s);
    return Reply{std::move(w.finish()), close};
}

inline Reply with_text(Op op, Status s, std::string_view text) {
    proto::Writer w(op, s);
    w.str(text);
    return Reply{std::move(w.finish()), false};
}

// Wipes a string holding a password or hash when it goes out of scope.
struct Scrub {
    std::string& s;
    ~Scrub() { wipe(s); }
};

// Page sizes for enumeration, and the room left in a response frame.
constexpr uint32_t kMaxPage = 1000;
constexpr size_t kResponseBudget = proto::kMaxResponse - 64 * 1024;

}  // namespace dj::handler_internal
