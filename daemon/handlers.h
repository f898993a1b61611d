// Request handling: one decoded request in, one encoded response out, with
// Django's semantics (ModelBackend, modwsgi check_password/groups_for_user,
// permission resolution). Independent of sockets and threads: the server
// calls handle() on a worker thread; unit tests call it directly.
//
// One class, in a file per kind of op it serves: handlers.cc (dispatch),
// handlers_auth.cc (Authenticate, AuthenticateWithCode, Account,
// ChangePassword), handlers_lookup.cc (users and groups), handlers_admin.cc
// (Stats, throttle, refreshes), handlers_offline.cc (answers while the
// database cannot be reached), handlers_ssh.cc (AuthorizedKeys).
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "daemon/config.h"
#include "passwords/hashers.h"
#include "common/protocol.h"
#include "daemon/cache.h"
#include "daemon/db.h"
#include "daemon/entries.h"
#include "daemon/host_names.h"
#include "daemon/offline_store.h"
#include "daemon/password_rules.h"
#include "daemon/peer.h"
#include "daemon/throttle.h"

namespace dj {

inline constexpr const char* kDaemonVersion = "django-authd 0.1.0";

struct Reply {
    std::vector<uint8_t> frame;   // a finished response frame
    bool close = false;           // close the connection after sending it
};

class Handler {
public:
    Handler(const Config& cfg, db::Database& db, Hashers& hashers, Cache& cache, AuthClients clients,
            uint32_t primary_gid);

    // `frame` is a request without its u32 length. Never throws.
    Reply handle(std::string_view frame, const Peer& peer);

    // The answer to a lookup from the cache, or nothing (not a lookup, not
    // cached): what handle() would answer, without the database, so that an
    // event loop can answer it itself. `peer` is only for the debug log.
    // Never throws.
    std::optional<Reply> cached(std::string_view frame, const Peer& peer) noexcept;

    // Who may ask for SSH keys besides root ([ssh] clients, resolved by the
    // caller; none until set). Set before the server starts.
    void set_ssh_clients(AuthClients clients) { ssh_clients_ = std::move(clients); }
    bool ssh_client(const Peer& peer) const { return ssh_clients_.allows(peer); }

    // Ops that may hash a password: they run on the authentication workers so
    // that lookups never wait behind a hash.
    static bool is_auth_op(proto::Op op);
    // Ops that read users and groups (answered from the cache when there).
    static bool is_lookup_op(proto::Op op);

    // Re-reads the host's passwd and group files when they changed, and then
    // drops every cached answer (a name that became local is hidden at once).
    // handle() calls it; the server also calls it every second, for the
    // answers given from the caches without a worker. Thread-safe.
    void refresh_host_names();
    const HostNames& host_names() const { return host_; }

    // Reads every stored password value (in pages, never logged) and sets
    // the hashers' parameters to the site's own where [passwords] names none
    // (choose_params()): at startup, every passwords.site_params_interval
    // seconds, and on a flush. False (parameters unchanged) when the
    // database cannot be read. Thread-safe.
    bool refresh_site_params();
    // Asks for a refresh_site_params() soon, from another thread (SIGHUP);
    // take_site_params_request() tells that thread whether one was asked.
    void want_site_params() { site_wanted_.store(true); }
    bool take_site_params_request() { return site_wanted_.exchange(false); }

    // Counters for the Stats op and the server.
    std::string stats_text() const;
    void count_connection() { connections_++; }

private:
    Reply authenticate(proto::Reader& r, const Peer& peer, bool with_code);
    // What the two authentication ops send; the strings are wiped by the op.
    struct Login {
        std::string user, password, service, rhost;
        uint32_t otp = 0;                   // proto::OtpFlags; 0: no codes asked
        const std::string* code = nullptr;  // AuthenticateWithCode's code
    };
    Reply login(proto::Op op, Login& l, const Peer& peer);
    Reply account(proto::Reader& r);
    Reply change_password(proto::Reader& r, const Peer& peer);
    Reply lookup(proto::Op op, proto::Reader& r, std::string_view frame);
    Reply throttle_op(proto::Op op, proto::Reader& r, const Peer& peer);
    Reply authorized_keys(proto::Reader& r, std::string_view frame, const Peer& peer);
    // Why this user may not log in through `service` (no such user, hidden
    // by the host's names, inactive, left out by [access]), or "" when it may.
    std::string login_refusal(const std::optional<db::UserRow>& u, std::string_view service);
    // A user's groups, read from the database when first asked for, then
    // kept: [access] and require_group ask the same question of one read.
    class UserGroups {
    public:
        UserGroups(db::Database& db, int64_t user_id) : db_(db), id_(user_id) {}
        // Groups known without the database (an offline record's).
        UserGroups(db::Database& db, int64_t user_id, std::vector<db::GroupRow> rows)
            : db_(db), id_(user_id), rows_(std::move(rows)) {}
        const std::vector<db::GroupRow>& get() {
            if (!rows_) rows_ = db_.groups_of_user(id_);
            return *rows_;
        }

    private:
        db::Database& db_;
        int64_t id_;
        std::optional<std::vector<db::GroupRow>> rows_;
    };
    // Whether the user is in any of `names` (Django group names or their NSS
    // names); groups the host's names hide count for nothing.
    bool in_any_group(UserGroups& groups, const std::vector<std::string>& names);
    // The [access] rule: may this (active, visible) user log in through
    // `service`?
    bool may_log_in(std::string_view service, UserGroups& groups);
    // That rule as the logs show it: "[access] sshd = ssh-users, admins".
    std::string access_rule(std::string_view service) const;
    // uid 0 or an auth client (AuthClients); otherwise counted and logged.
    bool trusted_caller(proto::Op op, const Peer& peer);
    // A failed password check of the user `key` (Throttle::user_key, shown
    // as `label`): counted by the throttle, logged when it locks.
    void count_failure(const std::string& key, const std::string& client, const std::string& label);
    // Whether the throttle refuses the check (counted and logged after `who`).
    // The seconds a lock has left (UINT32_MAX: until reset), 0 when not refused.
    uint32_t throttle_refuses(const std::string& key, const std::string& client, const std::string& who);

    // Lookups: fill `w` and return the status (Ok or NotFound).
    // The by-name lookups set `stored` to the name the database holds (for
    // groups, its NSS name): it differs from the asked one where the
    // database compares names loosely (MySQL's collations).
    // Each lookup fills `tags` with what its answer was read from
    // (daemon/cache_tags.h), and the by-name ones `stored` with the name as
    // Django stores it.
    proto::Status pw_by_name(proto::Reader& r, proto::Writer& w, std::string& stored, Cache::Tags& tags);
    proto::Status pw_by_uid(proto::Reader& r, proto::Writer& w, Cache::Tags& tags);
    proto::Status pw_list(proto::Reader& r, proto::Writer& w, Cache::Tags& tags);
    proto::Status gr_by_name(proto::Reader& r, proto::Writer& w, std::string& stored, Cache::Tags& tags);
    proto::Status gr_by_gid(proto::Reader& r, proto::Writer& w, Cache::Tags& tags);
    proto::Status gr_list(proto::Reader& r, proto::Writer& w, Cache::Tags& tags);
    proto::Status groups_of_user(proto::Reader& r, proto::Writer& w, std::string& stored, Cache::Tags& tags);
    std::optional<proto::Group> make_group(const db::GroupRow& g);

    // While the database cannot be reached (handlers_offline.cc): the last
    // answer the cache holds for a lookup, however old; Authenticate and
    // Account from the offline credentials ([offline]). Nothing when there
    // is none: the caller then answers Unavailable as before.
    std::optional<Reply> stale_lookup(proto::Op op, const std::string& key);
    std::optional<Reply> authenticate_offline(const std::string& user, const std::string& password,
                                              std::string_view service, const std::string& who,
                                              const std::string& client);
    std::optional<Reply> account_offline(const std::string& user, const std::vector<std::string>& any_of,
                                         uint32_t flags, const std::vector<std::string>& perms,
                                         std::string_view service);
    // Online: the user's offline record kept, renewed or dropped.
    bool offline_on() const { return cfg_.offline.cache_credentials; }
    void offline_seen(std::string_view asked, const std::optional<db::UserRow>& u);
    void offline_login(const db::UserRow& u, std::string_view password);
    void offline_account(const db::UserRow& u, UserGroups& groups);
    void offline_forget(int64_t user_id, const char* why);
    // After a scan of every stored hash (refresh_site_params): records of
    // users gone, inactive or with another hash dropped, old ones expired.
    void offline_sweep(const std::unordered_map<int64_t, std::array<uint8_t, 32>>& hashes);

    const Config& cfg_;
    db::Database& db_;
    Hashers& hashers_;
    PasswordRules rules_;            // AUTH_PASSWORD_VALIDATORS for new passwords
    mutable std::mutex params_mutex_;
    std::mutex scan_mutex_;          // one scan at a time
    std::string params_text_;        // choose_params()'s lines, for Stats
    uint64_t site_values_ = 0;       // values the last scan read
    std::atomic<bool> site_wanted_{false};
    Cache& cache_;
    AuthClients clients_;
    AuthClients ssh_clients_;        // [ssh] clients
    HostNames host_;
    Entries entries_;
    std::chrono::steady_clock::time_point started_;
    Throttle throttle_;
    OfflineStore offline_;
    std::atomic<int64_t> stale_logged_{0};   // steady seconds of the last "stale" log line

    std::atomic<uint64_t> requests_{0}, auth_ok_{0}, auth_fail_{0}, denied_{0}, unavailable_{0},
        connections_{0},
        throttled_{0}, stale_{0}, offline_ok_{0};
};

}  // namespace dj
