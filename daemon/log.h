// Logging for django-authd. Nothing that reaches these functions may contain
// a password or a hash; user-supplied text goes through printable() first.
//
// One sink, so that each line is stored once: syslog (facility authpriv), or,
// in the foreground, standard error alone; but when standard error is the
// systemd journal (JOURNAL_STREAM names it, as for the packaged service),
// syslog alone, which reaches the journal too and keeps the facility.
//
// Lines that an unprivileged caller can cause at will (refusals, failures,
// errors while answering it) are rate-limited per caller uid and kind of
// message (its
// format string): in each window of kLogWindowSeconds the first kLogBurst are
// written, the others counted, and when the window ends one line tells how
// many were left out ("last message from uid U repeated N times in S s: ...").
// Informational lines (a successful login, a password changed) are never
// held back. The table is bounded (kLogMaxKeys); past it, lines of new keys
// are counted together.
#pragma once

#include <sys/types.h>
#include <syslog.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/names.h"

namespace dj::log {

inline constexpr int kLogBurst = 5;
inline constexpr int kLogWindowSeconds = 5;
inline constexpr size_t kLogMaxKeys = 4096;

enum class Sink { Syslog, Stderr };
// Where lines go: see above. `journal_stream` is $JOURNAL_STREAM or null.
Sink choose_sink(bool foreground, const char* journal_stream, int stderr_fd);

// `foreground`: the daemon did not detach (see choose_sink).
void init(bool foreground, bool debug);
bool debug_enabled();
// Whether lines go to standard error (else to syslog).
bool to_stderr();
// Whether they are seen where standard error goes: they go there, or to
// syslog while standard error is the journal.
bool reaches_stderr();

// printf-style; prio is a syslog priority (LOG_ERR, LOG_WARNING, LOG_INFO...).
// On a thread inside a Caller scope, lines of LOG_NOTICE and above are
// rate-limited for that caller.
void say(int prio, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// The same, rate-limited for caller `uid` whatever the scope.
void say_for(uid_t uid, int prio, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
// Writes the summaries of windows that have ended. The event loops call it
// about once a second.
void tick();

// While it lives, the lines this thread logs are on behalf of `uid`.
class Caller {
public:
    explicit Caller(uid_t uid);
    ~Caller();
    Caller(const Caller&) = delete;
    Caller& operator=(const Caller&) = delete;

private:
    int64_t saved_;
};

// A user-supplied string made safe for one log line: control characters and
// non-ASCII bytes escaped as \xNN, cut at 64 characters.
// (The rule is common/names.h's: at most 64 bytes, the rest as \xNN.)
inline std::string printable(std::string_view s) { return names::printable(s, 64, names::Escape::Hex); }

// The rate limiter behind say_for (not thread-safe: log.cc locks it).
class RateLimiter {
public:
    using Clock = std::chrono::steady_clock;
    struct Summary {
        uid_t uid = 0;           // (uid_t)-1: callers past the table's bound
        uint64_t count = 0;      // lines left out
        int seconds = 0;         // over how long
        std::string line;        // the last of them ("" for the overflow)
    };
    RateLimiter(int burst, Clock::duration window, size_t max_keys);
    // Whether to write `line` now; if not, it is counted. Summaries that are
    // due are appended to `due`.
    bool admit(uid_t uid, const void* kind, std::string_view line, Clock::time_point now, std::vector<Summary>& due);
    // Appends the summaries of windows ended by `now` and forgets those keys.
    void expire(Clock::time_point now, std::vector<Summary>& due);
    size_t keys() const { return table_.size(); }

private:
    struct Key {
        uid_t uid;
        const void* kind;
        bool operator==(const Key& o) const { return uid == o.uid && kind == o.kind; }
    };
    struct KeyHash {
        size_t operator()(const Key& k) const noexcept;
    };
    struct Entry {
        Clock::time_point start;
        int written = 0;
        uint64_t left_out = 0;
        std::string last;
    };
    Summary summary(uid_t uid, Entry& e, Clock::time_point now) const;

    int burst_;
    Clock::duration window_;
    size_t max_keys_;
    std::unordered_map<Key, Entry, KeyHash> table_;
    Entry overflow_;  // lines of keys that found the table full
};

}  // namespace dj::log
