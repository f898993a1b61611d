#include "daemon/invalidation.h"

#include "daemon/cache.h"
#include "daemon/log.h"

namespace dj {

void Invalidation::notified(const std::vector<std::string>& payloads) {
    for (const auto& p : payloads) {
        if (p.rfind("perm:", 0) == 0) continue;  // permissions are never cached
        cache_.flush();
        if (log::debug_enabled())
            log::say(LOG_DEBUG, "database change (%s and %zu more): cache flushed", p.c_str(), payloads.size() - 1);
        return;
    }
}

void Invalidation::everything(const char* why) {
    cache_.flush();
    log::say(LOG_DEBUG, "cache flushed: %s", why);
}

void Invalidation::unwatched(const char* why) {
    cache_.expire_all();
    log::say(LOG_DEBUG, "cached answers expired: %s", why);
}

std::jthread start_invalidation(const Config& cfg, Invalidation& inv) {
    // MySQL/MariaDB has no notification to listen to yet: answers live their ttl.
    if (!cfg.cache.invalidate || cfg.cache.positive_ttl <= 0 ||
        (cfg.database.engine != "postgresql" && cfg.database.engine != "sqlite3"))
        return {};
    const DatabaseConfig db = cfg.database;
    return std::jthread([db, &inv](std::stop_token stop) {
        try {
            if (db.engine == "postgresql")
                db::listen_postgres(db, stop, inv);
            else
                db::watch_sqlite(db, stop, inv);
        } catch (const std::exception& e) {
            // Nothing is known to be fresh any more: fall back to the ttl.
            inv.everything("watcher failed");
            log::say(LOG_ERR, "change watcher stopped: %s; cached answers now live their ttl", e.what());
        }
    });
}

}  // namespace dj
