// Failed-login throttling, in the style of pam_faillock: `deny` failures
// within `fail_interval` seconds lock a user out for `unlock_time` seconds
// (0: until `django-authctl reset`). Counted separately per user and per
// calling client, so hammering one user locks that user only, and a client
// that fails against many users is locked as a client without locking those
// users for everybody else.
//
// A user is counted as the database resolves the name typed (user_key): by
// Django id when the user exists, so every spelling a case-insensitive
// collation matches shares one count; by the name typed otherwise.
//
// A client is the PAM rhost when the caller gives one (with the caller's uid),
// else the caller's uid; root callers without an rhost (su, login, sudo run as
// root for every local user) are not counted as a client. A locked client is
// not refused outright: behind a reverse proxy every web login comes from the
// same rhost, and one attacker there must not lock everybody out. While a
// client is locked, a user who failed from that client within fail_interval
// is refused (without a password check); any other user is checked as usual.
// Password spraying from a locked client thus gets one guess per user name
// per fail_interval, while a user who has not failed from there logs in at once.
//
// A name the database does not know (or that [access] or the host's names
// leave out: the daemon answers those as unknown) is counted and locked as a
// real user is, after the same failures and for the same time, so a lockout
// and its message never tell whether a name exists.
//
// Records live in three tables, each bounded by max_entries: the users the
// database knows, the names it does not know, and clients. Past the bound,
// the unlocked record touched longest ago goes first, then an expired lock;
// an active lockout is never dropped (when every record is an active
// lockout, new failures are not recorded until one expires or is reset). A
// flood of made-up names, or of failures from many addresses, thus only
// pushes out its own kind: it cannot evict, and so reset, the count of a
// real user. Thread-safe; the
// lock is held for map updates only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "daemon/config.h"

namespace dj {

class Throttle {
public:
    using Clock = std::chrono::steady_clock;

    explicit Throttle(const ThrottleConfig& cfg);

    // The client key of a caller ("" when the caller is not counted).
    static std::string client_key(uid_t uid, std::string_view rhost);
    // The user key: "id:<Django id>" when the database knows the name typed,
    // else "name:<name typed>".
    static std::string user_key(std::optional<int64_t> id, std::string_view typed);

    // Whether a password check of `user` (a key) from `client` is refused:
    // 0 no; else the seconds the lock has left (UINT32_MAX: until reset), and
    // `what` is "user" (the user is locked) or "client" (the client is
    // locked and the user failed from it within fail_interval).
    uint32_t locked(std::string_view user, const std::string& client, const char*& what,
                    Clock::time_point now = Clock::now());
    // A failed password check: counts for both; true when it locked either.
    // `label` is the name shown by list() (default: `user`).
    bool failure(std::string_view user, const std::string& client, Clock::time_point now = Clock::now(),
                 std::string_view label = {});
    // A successful one clears the user's record (not the client's).
    void success(std::string_view user, Clock::time_point now = Clock::now());

    struct Entry {
        std::string kind;        // "user" or "client"
        std::string name;        // a user's label, or the client key
        uint32_t failures = 0;   // within fail_interval
        uint32_t locked_for = 0; // seconds left; UINT32_MAX: until reset
    };
    // Every record with failures or a lock; only the user `user` (a label or
    // a key) when not empty.
    std::vector<Entry> list(std::string_view user = {}, Clock::time_point now = Clock::now());
    // Clears a user's records (kind "user": the key `name`, and every record
    // labelled `name`) or a client's ("client"). False when there was none.
    bool reset(std::string_view kind, std::string_view name);
    size_t size() const;
    bool enabled() const { return cfg_.deny > 0 || cfg_.client_deny > 0; }

private:
    struct Fail {
        Clock::time_point at;
        uint64_t client = 0;                // hash of the client key (users' records)
    };
    struct Rec {
        std::string key;                    // "u:" + user key or "c:" + client
        std::string label;                  // users: the name list() shows
        std::deque<Fail> fails;
        bool locked = false;                // in its table's locked (else open)
        Clock::time_point until{};          // when locked and unlock_time > 0
    };
    using List = std::list<Rec>;
    struct Table {
        List open;                          // unlocked; front: touched last
        List locked;                        // locked; front: locked last
        size_t size = 0;
    };
    Table& table_of(const std::string& key);

    Rec* find(const std::string& key);
    Rec* touch(const std::string& key, Clock::time_point now);
    void erase(const std::string& key);
    void prune(Rec& r, Clock::time_point now);
    uint32_t lock_left(Rec& r, Clock::time_point now);
    bool count(Rec& r, int deny, uint64_t client, Clock::time_point now);
    void list_from(List& l, std::string_view user, Clock::time_point now, std::vector<Entry>& out);

    ThrottleConfig cfg_;
    mutable std::mutex mu_;
    Table known_;                                       // users by Django id
    Table unknown_;                                     // names the database does not know
    Table clients_;
    std::unordered_map<std::string, List::iterator> map_;
};

}  // namespace dj
