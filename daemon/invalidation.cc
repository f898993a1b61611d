#include "daemon/invalidation.h"

#include <algorithm>
#include <charconv>

#include "daemon/cache.h"
#include "daemon/cache_tags.h"
#include "daemon/log.h"

namespace dj {

namespace {

// A non-negative decimal id, all of `s`.
std::optional<int64_t> id_of(std::string_view s) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty() || v < 0) return std::nullopt;
    return v;
}

}  // namespace

std::optional<Cache::Tags> tags_of_change(std::string_view payload) {
    auto after = [&](std::string_view prefix) -> std::optional<std::string_view> {
        if (payload.substr(0, prefix.size()) != prefix) return std::nullopt;
        return payload.substr(prefix.size());
    };
    if (payload.substr(0, 5) == "perm:") return Cache::Tags{};  // permissions are never cached
    if (auto user = after("user:")) {
        if (auto id = id_of(*user))
            return Cache::Tags{cache_tag::user(*id), cache_tag::groups(), cache_tag::user_pages(),
                               cache_tag::not_found()};
    } else if (auto group = after("group:")) {
        if (auto id = id_of(*group))
            return Cache::Tags{cache_tag::group(*id), cache_tag::group_pages(), cache_tag::access(),
                               cache_tag::not_found()};
    } else if (auto member = after("member:")) {
        const size_t colon = member->find(':');
        if (colon != std::string_view::npos) {
            auto uid = id_of(member->substr(0, colon));
            auto gid = id_of(member->substr(colon + 1));
            if (uid && gid)
                return Cache::Tags{cache_tag::memberships(*uid), cache_tag::group(*gid), cache_tag::group_pages()};
        }
    } else if (auto key = after("key:")) {
        if (auto id = id_of(*key)) return Cache::Tags{cache_tag::keys(*id)};
    }
    return std::nullopt;  // "all", or a payload this daemon does not know
}

void Invalidation::notified(const std::vector<std::string>& payloads) {
    Cache::Tags tags;
    for (const auto& p : payloads) {
        auto t = tags_of_change(p);
        if (!t) {
            everything(p == "all" ? "database change: all" : "database change of an unknown kind");
            return;
        }
        tags.insert(tags.end(), t->begin(), t->end());
    }
    if (tags.empty()) return;
    std::sort(tags.begin(), tags.end());
    tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
    const size_t dropped = cache_.drop(tags);
    if (log::debug_enabled())
        log::say(LOG_DEBUG, "database change (%s and %zu more): %zu cached answers dropped", payloads.front().c_str(),
                 payloads.size() - 1, dropped);
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
