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
// What is dropped: the lookup cache and the shared file, whole, on any
// change of a user, group or membership (payloads "user:ID", "group:ID",
// "member:USER:GROUP", "all"). Cached answers are keyed by name, by id and
// by list (members of a group, groups of a user, enumeration pages): one
// user's change reaches all of them, so a flush is the rule that is right
// for every key; such changes are rare (an administrator's edit, not a
// login: an UPDATE of the last-login column alone sends nothing).
// Permission changes ("perm:...") drop nothing: permissions are read afresh
// by every account check and never cached. When notifications may have been
// missed (listening begins) the cache is flushed too; when the listening
// connection is lost, its entries are expired but kept, for answers while
// the database cannot be reached (handlers_offline.cc).
#pragma once

#include <string>
#include <thread>
#include <vector>

#include "daemon/config.h"

namespace dj {

class Cache;

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
