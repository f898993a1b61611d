// PostgreSQL change notifications (see invalidation.h): LISTEN django_auth on
// a connection of its own (to the server of [database]: a pooler in
// transaction mode would not deliver notifications), for as long as the
// daemon runs.
#include <postgresql/libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/db_postgres.h"
#include "daemon/invalidation.h"
#include "daemon/log.h"

namespace dj::db {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kChannel = "django_auth";
constexpr int kStatementTimeoutMs = 10000;

// Sleeps `d` unless asked to stop first; true when asked.
bool nap(std::stop_token stop, std::chrono::milliseconds d) {
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock<std::mutex> lock(m);
    cv.wait_for(lock, stop, d, [] { return false; });
    return stop.stop_requested();
}

struct Conn {
    PGconn* c = nullptr;
    Conn() = default;
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;
    ~Conn() { close(); }
    void close() {
        if (c) PQfinish(c);
        c = nullptr;
    }
};

// A connection of the listener's own: to [database] with [database] listen
// over it (`over`: the listen keywords, or the replica's).
PGconn* connect(const DatabaseConfig& cfg, const std::string& over, const char* name, std::string& error) {
    auto params = PostgresEngine::conninfo(cfg, over);
    auto set = [&params](const char* k, const char* v, bool override_given) {
        for (auto& p : params)
            if (p.first == k) {
                if (override_given) p.second = v;
                return;
            }
        params.emplace_back(k, v);
    };
    // A peer that vanishes without a word (a network cut) is noticed too.
    set("keepalives_idle", "10", false);
    set("keepalives_interval", "5", false);
    set("keepalives_count", "3", false);
    set("application_name", name, true);
    PGconn* c = PostgresEngine::connect_params(params);
    if (c && PQstatus(c) == CONNECTION_OK && PQsetnonblocking(c, 1) == 0) return c;
    error = c ? one_line(PQerrorMessage(c)) : "out of memory";
    if (c) PQfinish(c);
    return nullptr;
}

// Runs `sql` (no parameters) within the statement timeout; the first row's
// first value in `value` ("" when none). False on any failure.
bool exec(PGconn* c, const char* sql, std::string& value, std::string& error) {
    value.clear();
    if (!PQsendQuery(c, sql)) return error = one_line(PQerrorMessage(c)), false;
    const auto deadline = Clock::now() + std::chrono::milliseconds(kStatementTimeoutMs);
    while (PQflush(c) == 1 || PQisBusy(c)) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return error = "statement timeout", false;
        pollfd p{PQsocket(c), POLLIN, 0};
        if (poll(&p, 1, int(left)) < 0 && errno != EINTR) return error = "poll failed", false;
        if (!PQconsumeInput(c)) return error = one_line(PQerrorMessage(c)), false;
    }
    bool ok = true;
    while (PGresult* r = PQgetResult(c)) {
        const auto st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            ok = false;
            error = one_line(PQresultErrorMessage(r));
        } else if (st == PGRES_TUPLES_OK && PQntuples(r) > 0 && PQnfields(r) > 0) {
            value = PQgetvalue(r, 0, 0);
        }
        PQclear(r);
    }
    return ok;
}

// Takes the notifications libpq has read.
std::vector<std::string> take_notifies(PGconn* c) {
    std::vector<std::string> out;
    while (PGnotify* n = PQnotifies(c)) {
        out.emplace_back(n->extra ? n->extra : "");
        PQfreemem(n);
    }
    return out;
}

// With reads on a replica ([database] replica), an answer dropped at a
// notification would be read again from a replica that may not have replayed
// the change yet, and kept for the ttl. So before dropping, the listener
// waits until its replica connection has replayed the primary's WAL position
// of now (after the commit: notifications are sent at commit). Meanwhile the
// cached answers stay: what the daemon answers is what its replica has. A
// replica that cannot be reached is waited for too (it may come back
// behind); past kReplicaGiveUp the wait ends (false). `replica` is
// connected on first use and kept.
constexpr auto kReplicaSlow = std::chrono::seconds(5);
constexpr auto kReplicaGiveUp = std::chrono::seconds(60);

bool wait_for_replica(PGconn* primary, Conn& replica, const DatabaseConfig& cfg, std::stop_token stop) {
    std::string lsn, error, value;
    if (!exec(primary, "SELECT pg_catalog.pg_current_wal_lsn()", lsn, error) ||
        lsn.find_first_not_of("0123456789ABCDEFabcdef/") != std::string::npos || lsn.empty()) {
        log::say(LOG_WARNING, "change notifications: no WAL position from the primary (%s)", error.c_str());
        return false;
    }
    // Not a replica (NULL replay position): nothing to wait for.
    const std::string sql =
        "SELECT coalesce(pg_catalog.pg_last_wal_replay_lsn() >= '" + lsn + "'::pg_lsn, true)";
    const auto start = Clock::now();
    bool said_slow = false;
    while (Clock::now() - start < kReplicaGiveUp) {
        if (!replica.c) replica.c = connect(cfg, cfg.replica, "django-authd replica check", error);
        if (replica.c && exec(replica.c, sql.c_str(), value, error)) {
            if (value == "t") {
                if (said_slow) log::say(LOG_INFO, "change notifications: the replica caught up");
                return true;
            }
        } else {
            replica.close();
        }
        if (!said_slow && Clock::now() - start > kReplicaSlow) {
            log::say(LOG_WARNING, "change notifications: the replica is more than %d s behind the primary%s%s",
                     int(kReplicaSlow.count()), replica.c ? "" : ": ", replica.c ? "" : error.c_str());
            said_slow = true;
        }
        if (nap(stop, std::chrono::milliseconds(replica.c ? 10 : 200))) return false;
    }
    return false;
}

}  // namespace

void listen_postgres(const DatabaseConfig& cfg, std::stop_token stop, Invalidation& inv) {
    bool said_absent = false, said_down = false;
    Conn replica;
    while (!stop.stop_requested()) {
        Conn conn;
        std::string error, value;
        conn.c = connect(cfg, cfg.listen, "django-authd listen", error);
        if (!conn.c) {
            if (!said_down) log::say(LOG_WARNING, "change notifications: cannot connect (%s); retrying", error.c_str());
            said_down = true;
            if (nap(stop, std::chrono::seconds(2))) return;
            continue;
        }
        said_down = false;
        // The triggers' function, in a schema the connection sees.
        if (!exec(conn.c, "SELECT count(*) FROM pg_catalog.pg_proc WHERE proname = 'django_auth_notify'", value,
                  error)) {
            log::say(LOG_WARNING, "change notifications: %s; retrying", error.c_str());
            if (nap(stop, std::chrono::seconds(2))) return;
            continue;
        }
        if (value == "0") {
            if (!said_absent)
                log::say(LOG_INFO,
                         "change notifications: no triggers in the database (django-authctl install-triggers); "
                         "cached answers live their ttl");
            said_absent = true;
            conn.close();
            if (nap(stop, std::chrono::seconds(30))) return;
            continue;
        }
        said_absent = false;
        if (!exec(conn.c, "LISTEN django_auth", value, error)) {
            log::say(LOG_WARNING, "change notifications: LISTEN: %s; retrying", error.c_str());
            if (nap(stop, std::chrono::seconds(2))) return;
            continue;
        }
        // What changed before LISTEN took effect was not notified: all goes,
        // once the replica (if reads go to one) has all of it.
        if (!cfg.replica.empty() && !wait_for_replica(conn.c, replica, cfg, stop) && stop.stop_requested()) return;
        inv.everything("listening for database changes");
        log::say(LOG_INFO, "change notifications: listening on channel %s", kChannel);
        for (;;) {
            // Notifications libpq has read already (while a query ran) come
            // first: poll() would not wake for them.
            auto payloads = take_notifies(conn.c);
            if (payloads.empty()) {
                pollfd p{PQsocket(conn.c), POLLIN, 0};
                const int r = poll(&p, 1, 500);
                if (stop.stop_requested()) return;
                if (r < 0 && errno != EINTR) {
                    error = "poll failed";
                    break;
                }
                if (r <= 0) continue;
                if (!PQconsumeInput(conn.c) || PQstatus(conn.c) != CONNECTION_OK) {
                    error = one_line(PQerrorMessage(conn.c));
                    break;
                }
                // Stray results (none are expected) are read and dropped.
                while (!PQisBusy(conn.c))
                    if (PGresult* res = PQgetResult(conn.c)) PQclear(res);
                    else break;
                payloads = take_notifies(conn.c);
                if (payloads.empty()) continue;
            }
            if (!cfg.replica.empty() && !wait_for_replica(conn.c, replica, cfg, stop)) {
                if (stop.stop_requested()) return;
                // Nothing known of the replica: every answer is read again
                // when next asked (and kept for an outage).
                inv.unwatched("the replica did not replay a change");
                continue;
            }
            inv.notified(payloads);
        }
        // Whatever was notified while the connection was going is lost: no
        // cached answer is fresh now; listening again flushes them.
        inv.unwatched("the listening connection was lost");
        log::say(LOG_WARNING, "change notifications: connection lost (%s); cache expired, listening again",
                 error.c_str());
        if (nap(stop, std::chrono::milliseconds(200))) return;
    }
}

}  // namespace dj::db
