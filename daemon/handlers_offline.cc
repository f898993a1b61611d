// Handler: what is answered while the database cannot be reached (the
// breaker is open, or a call just failed to reach it), and the upkeep of the
// offline credentials while it can.
//
// Lookups: the last answer the cache holds, past its lifetime (never when
// the database answers: then an expired entry is read again).
// Authenticate: the user's offline record (offline_store.h), only when
// [offline] cache_credentials is on and the last online login is at most
// max_days old; the throttle counts as online.
// Account: decided from what the daemon saw at the user's last online login
// (flags and groups; as SSSD answers from its cached groups): [access],
// require_group, staff and superuser as then. Django permissions are not
// kept: a check that needs them (and the user is no superuser) is answered
// Unavailable, as without offline credentials.
#include "daemon/handlers.h"
#include "daemon/handlers_internal.h"

#include <ctime>

#include "daemon/log.h"

namespace dj {

using namespace handler_internal;

namespace {

// One "stale" line per outage, or per this many seconds while it lasts.
constexpr int64_t kStaleLogSeconds = 60;

int64_t steady_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string age_text(int64_t login_time, int64_t now) {
    const int64_t h = (now - login_time) / 3600;
    return h < 48 ? std::to_string(h) + " h" : std::to_string(h / 24) + " days";
}

}  // namespace

std::optional<Reply> Handler::stale_lookup(Op op, const std::string& key) {
    auto stale = cache_.get_stale(key);
    if (!stale) return std::nullopt;
    const uint64_t n = ++stale_;
    const int64_t now = steady_seconds();
    int64_t last = stale_logged_.load();
    if ((last == 0 || now - last >= kStaleLogSeconds) && stale_logged_.compare_exchange_strong(last, now))
        log::say(LOG_WARNING,
                 "database unavailable: lookups answered from stale cached entries (%s; %llu stale answers so far)",
                 proto::op_name(op), static_cast<unsigned long long>(n));
    return Reply{std::move(*stale), false};
}

std::optional<Reply> Handler::authenticate_offline(const std::string& user, const std::string& password,
                                                   std::string_view service, const std::string& who,
                                                   const std::string& client) {
    const Op op = Op::Authenticate;
    if (!offline_on()) return std::nullopt;
    const int64_t now = std::time(nullptr);
    auto rec = offline_.find(user, now);
    if (!rec) {
        log::say(LOG_NOTICE, "authentication failed: %s: database unavailable, no offline credentials (%s)",
                 who.c_str(), offline_.verify(user, {}, now) == OfflineStore::Check::Expired
                                  ? ("last online login over " + std::to_string(offline_.max_days()) + " days ago").c_str()
                                  : "no online login kept");
        return std::nullopt;
    }
    const std::string tkey = Throttle::user_key(rec->user_id, user);
    if (const uint32_t left = throttle_refuses(tkey, client, "offline authentication refused: " + who)) {
        auth_fail_++;
        proto::Writer w(op, Status::Throttled);
        w.u32(left);
        return Reply{std::move(w.finish()), false};
    }
    std::string refusal;
    if (entries_.hidden_by_host(rec->user_id, rec->username)) {
        refusal = "not served: the host uses or reserves its name or id";
    } else if (UserGroups groups(db_, rec->user_id, rec->groups); !may_log_in(service, groups)) {
        refusal = "not allowed by " + access_rule(service) + " (groups of the last online login)";
    }
    if (!refusal.empty()) {
        offline_.verify(user, password, now);  // the same work as a wrong password
        auth_fail_++;
        log::say(LOG_NOTICE, "authentication failed (offline): %s: %s", who.c_str(), refusal.c_str());
        count_failure(tkey, client, rec->username);
        return status_only(op, Status::NoUser);
    }
    if (offline_.verify(user, password, now) != OfflineStore::Check::Match) {
        auth_fail_++;
        log::say(LOG_NOTICE, "authentication failed (offline): %s: wrong password", who.c_str());
        count_failure(tkey, client, rec->username);
        return status_only(op, Status::WrongPassword);
    }
    throttle_.success(tkey);
    auth_ok_++;
    offline_ok_++;
    log::say(LOG_INFO, "authenticated offline (database unavailable; last online login %s ago): %s",
             age_text(rec->login_time, now).c_str(), who.c_str());
    return status_only(op, Status::Ok);
}

std::optional<Reply> Handler::account_offline(const std::string& user, const std::vector<std::string>& any_of,
                                              uint32_t flags, const std::vector<std::string>& perms,
                                              std::string_view service) {
    const Op op = Op::Account;
    if (!offline_on()) return std::nullopt;
    auto rec = offline_.find(user, std::time(nullptr));
    if (!rec) return std::nullopt;
    if (entries_.hidden_by_host(rec->user_id, rec->username)) return with_text(op, Status::NoUser, "no such user");
    UserGroups groups(db_, rec->user_id, rec->groups);
    if (!may_log_in(service, groups)) {
        const std::string rule = access_rule(service);
        log::say(LOG_NOTICE, "account refused (offline): user=%s service=%s: not allowed by %s",
                 log::printable(rec->username).c_str(), log::printable(service).c_str(), rule.c_str());
        return with_text(op, Status::PermDenied, "not allowed to log in through this service (" + rule + ")");
    }
    if ((flags & proto::kRequireStaff) && !rec->is_staff)
        return with_text(op, Status::PermDenied, "staff status required");
    if ((flags & proto::kRequireSuperuser) && !rec->is_superuser)
        return with_text(op, Status::PermDenied, "superuser status required");
    if (!any_of.empty() && !in_any_group(groups, any_of))
        return with_text(op, Status::PermDenied, "not in any of the required groups");
    if (!perms.empty() && !rec->is_superuser) {
        log::say(LOG_NOTICE, "account of user=%s: Django permissions cannot be checked while the database is unavailable",
                 log::printable(rec->username).c_str());
        return std::nullopt;
    }
    log::say(LOG_INFO, "account allowed offline (as at the last online login): user=%s service=%s",
             log::printable(rec->username).c_str(), log::printable(service).c_str());
    return with_text(op, Status::Ok, "");
}

void Handler::offline_seen(std::string_view asked, const std::optional<db::UserRow>& u) {
    if (!offline_on()) return;
    std::string error;
    if (offline_.seen(asked, u, error))
        log::say(LOG_INFO, "offline credentials of user=%s dropped: %s",
                 log::printable(u ? u->username : asked).c_str(),
                 !u ? "no such user" : !u->is_active ? "inactive" : "password or name changed");
    if (!error.empty()) log::say(LOG_ERR, "offline credentials: %s", error.c_str());
}

void Handler::offline_login(const db::UserRow& u, std::string_view password) {
    if (!offline_on()) return;
    const int64_t now = std::time(nullptr);
    if (offline_.current(u, now)) return;
    try {
        std::string error;
        if (!offline_.remember(u, password, db_.groups_of_user(u.id), now, error))
            log::say(LOG_ERR, "offline credentials of user=%s not stored: %s", log::printable(u.username).c_str(),
                     error.c_str());
    } catch (const std::exception& e) {
        log::say(LOG_WARNING, "offline credentials of user=%s not stored: %s", log::printable(u.username).c_str(),
                 e.what());
    }
}

void Handler::offline_account(const db::UserRow& u, UserGroups& groups) {
    if (!offline_on() || !offline_.has(u.id)) return;
    std::string error;
    if (!offline_.update(u, groups.get(), error))
        log::say(LOG_ERR, "offline credentials: %s", error.c_str());
}

void Handler::offline_forget(int64_t user_id, const char* why) {
    if (!offline_on()) return;
    std::string error;
    if (offline_.forget(user_id, error)) log::say(LOG_INFO, "offline credentials of user id %lld dropped: %s",
                                                  static_cast<long long>(user_id), why);
    if (!error.empty()) log::say(LOG_ERR, "offline credentials: %s", error.c_str());
}

void Handler::offline_sweep(const std::unordered_map<int64_t, std::array<uint8_t, 32>>& hashes) {
    if (!offline_on()) return;
    std::string error;
    if (offline_.expire(std::time(nullptr), error))
        log::say(LOG_INFO, "offline credentials older than %d days dropped", offline_.max_days());
    for (int64_t id : offline_.ids()) {
        auto h = hashes.find(id);
        if (h == hashes.end()) {
            offline_forget(id, "no such user");
            continue;
        }
        try {
            std::optional<db::UserRow> u = db_.user_by_id(id);
            if (!u) offline_forget(id, "no such user");
            else if (offline_.seen(u->username, u, error, &h->second))
                log::say(LOG_INFO, "offline credentials of user=%s dropped: %s", log::printable(u->username).c_str(),
                         !u->is_active ? "inactive" : "password or name changed");
        } catch (const std::exception&) {
            return;  // the next sweep
        }
    }
    if (!error.empty()) log::say(LOG_ERR, "offline credentials: %s", error.c_str());
}

}  // namespace dj
