// Failed-login throttling, in the style of pam_faillock: `deny` failures
// within `fail_interval` seconds lock a user out for `unlock_time` seconds
// (0: until `django-authctl reset`). Counted separately per user name and per
// calling client, so hammering one user locks that user only, and a client
// that fails against many users is locked as a client without locking those
// users for everybody else.
//
// A client is the PAM rhost when the caller gives one (with the caller's uid),
// else the caller's uid; root callers without an rhost (su, login, sudo run as
// root for every local user) are not counted as a client. The table is
// bounded: past max_entries the record touched longest ago goes first.
// Thread-safe; the lock is held for map updates only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/config.h"

namespace dj {

class Throttle {
public:
    using Clock = std::chrono::steady_clock;

    explicit Throttle(const ThrottleConfig& cfg);

    // The client key of a caller ("" when the caller is not counted).
    static std::string client_key(uid_t uid, std::string_view rhost);

    // Seconds the user or the client stays locked (0: not locked; for a lock
    // until reset, UINT32_MAX). `what` is set to "user" or "client".
    uint32_t locked(std::string_view user, const std::string& client, const char*& what,
                    Clock::time_point now = Clock::now());
    // A failed password check: counts for both; true when it locked either.
    bool failure(std::string_view user, const std::string& client, Clock::time_point now = Clock::now());
    // A successful one clears the user's record (not the client's).
    void success(std::string_view user, Clock::time_point now = Clock::now());

    struct Entry {
        std::string kind;        // "user" or "client"
        std::string name;
        uint32_t failures = 0;   // within fail_interval
        uint32_t locked_for = 0; // seconds left; UINT32_MAX: until reset
    };
    // Every record with failures or a lock; only `user`'s when not empty.
    std::vector<Entry> list(std::string_view user = {}, Clock::time_point now = Clock::now());
    // Clears a user's record (kind "user") or a client's ("client"). False
    // when there was none.
    bool reset(std::string_view kind, std::string_view name);
    size_t size() const;
    bool enabled() const { return cfg_.deny > 0 || cfg_.client_deny > 0; }

private:
    struct Rec {
        std::string key;                    // "u:" + name or "c:" + client
        std::deque<Clock::time_point> fails;
        bool locked = false;
        Clock::time_point until{};          // when locked and unlock_time > 0
    };
    using List = std::list<Rec>;

    Rec* find(const std::string& key);
    Rec& touch(const std::string& key);
    void prune(Rec& r, Clock::time_point now);
    uint32_t lock_left(Rec& r, Clock::time_point now);
    bool count(const std::string& key, int deny, Clock::time_point now);

    ThrottleConfig cfg_;
    mutable std::mutex mu_;
    List lru_;                                          // front: touched last
    std::unordered_map<std::string, List::iterator> map_;
};

}  // namespace dj
