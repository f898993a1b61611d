// Push invalidation ([cache] invalidate): cached answers are dropped when the
// Django database changes, instead of living out positive_ttl.
//
//   PostgreSQL  the triggers of `django-authctl install-triggers --print`
//               NOTIFY the channel django_auth; a thread LISTENs on its own
//               connection (db_postgres_listen.cc). Without the triggers it
//               looks for them again every 30 seconds and the cache behaves
//               as without invalidation.
//   SQLite      a thread reads PRAGMA data_version on its own connection
//               four times a second (db_sqlite_watch.cc): any commit by
//               another connection (Django's, or the daemon's own writes)
//               changes it.
//   MySQL       nothing yet: cached answers live their ttl.
//
// What is dropped: exactly the cached answers a change touches, here and
// in the shared file. Each cached answer carries tags saying what it was
// read from (daemon/cache_tags.h has the table), and each payload maps to
// tags (tags_of_change below): "user:ID" drops that user's answers, every
// group answer (members are user names) and every negative answer;
// "group:ID" that group's answers, the groups of its users, the group pages,
// the SSH key answers (a renamed group may start or stop matching [access])
// and the negative answers; "member:USER:GROUP" the user's groups and the
// group's answers; "key:USER" (the SSH key table) that user's keys. "all"
// (TRUNCATE) and payloads this daemon does not know empty the cache. Permission changes ("perm:...") drop nothing:
// permissions are read afresh by every account check and never cached.
// When notifications may have been missed (listening begins) and on SQLite
// (which says that something changed, not what), the cache is emptied; when
// the listening connection is lost (or SQLite cannot be read), every cached
// answer is expired but kept, for the answers given while the database
// cannot be reached (handlers_offline.cc).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "daemon/cache.h"
#include "daemon/config.h"

namespace dj {

// The cache tags a trigger payload drops; nothing when everything must go.
std::optional<Cache::Tags> tags_of_change(std::string_view payload);

class Invalidation {
public:
    explicit Invalidation(Cache& cache) : cache_(cache) {}
    // A batch of trigger payloads (see above).
    void notified(const std::vector<std::string>& payloads);
    // Anything may have changed (`why` goes to the log).
    void everything(const char* why);
    // Changes may be missed from now on (the database cannot be watched):
    // nothing cached is served as fresh any more, but the answers stay for
    // while the database cannot be reached (Cache::expire_all). Watching
    // again begins with everything().
    void unwatched(const char* why);

private:
    Cache& cache_;
};

// Starts the engine's watcher (nothing when [cache] invalidate is off or
// positive_ttl is 0). The thread stops when the jthread is destroyed.
std::jthread start_invalidation(const Config& cfg, Invalidation& inv);

namespace db {
// The watchers, run by start_invalidation's thread until `stop`.
void listen_postgres(const DatabaseConfig& cfg, std::stop_token stop, Invalidation& inv);
void watch_sqlite(const DatabaseConfig& cfg, std::stop_token stop, Invalidation& inv);
}  // namespace db

}  // namespace dj
