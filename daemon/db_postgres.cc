#include "daemon/db_postgres.h"

#include <postgresql/libpq-fe.h>  // Debian: pkg-config libpq --cflags is -I/usr/include/postgresql
#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <ctime>
#include <thread>

namespace dj::db {
namespace {

using Clock = std::chrono::steady_clock;


// Waits until the socket is readable (or writable) or the deadline passes.
bool wait_socket(PGconn* c, bool for_write, Clock::time_point deadline) {
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return false;
        pollfd p{PQsocket(c), short(for_write ? POLLOUT : POLLIN), 0};
        int r = poll(&p, 1, int(left));
        if (r > 0) return true;
        if (r < 0 && errno != EINTR) return true;  // let libpq report the error
    }
}

}  // namespace

namespace {

// Keyword/value pairs of a conninfo string, parsed by libpq itself.
PostgresEngine::Params parse_conninfo(const std::string& text, const char* what) {
    PostgresEngine::Params kv;
    if (text.empty()) return kv;
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(text.c_str(), &err);
    if (!opts) {
        std::string why = one_line(err);
        if (err) PQfreemem(err);
        throw std::invalid_argument(std::string(what) + ": " + why);
    }
    for (PQconninfoOption* o = opts; o->keyword; ++o)
        if (o->val && *o->val) kv.emplace_back(o->keyword, o->val);
    PQconninfoFree(opts);
    return kv;
}

// "postgresql NAME@HOST:PORT", for log lines (never the password).
std::string describe_of(const PostgresEngine::Params& params) {
    auto value = [&params](const char* key) {
        for (const auto& [k, v] : params)
            if (k == key) return v;
        return std::string();
    };
    std::string d = "postgresql " + value("dbname");
    if (!value("host").empty()) d += "@" + value("host");
    if (!value("port").empty()) d += ":" + value("port");
    return d;
}

}  // namespace

std::string one_line(const char* msg) {
    std::string s = msg ? msg : "";
    for (char& c : s)
        if (c == '\n' || c == '\r') c = ' ';
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
}

PostgresEngine::Params PostgresEngine::conninfo(const DatabaseConfig& cfg, const std::string& over) {
    // Extra conninfo first; our own keys override; then `over`'s.
    Params kv = parse_conninfo(cfg.options, "database.options");
    auto set = [&kv](const std::string& k, const std::string& v) {
        if (v.empty()) return;
        for (auto& p : kv)
            if (p.first == k) {
                p.second = v;
                return;
            }
        kv.emplace_back(k, v);
    };
    set("dbname", cfg.name);
    set("user", cfg.user);
    set("password", cfg.password);
    set("host", cfg.host);
    set("port", cfg.port);
    set("connect_timeout", std::to_string(cfg.connect_timeout));
    set("application_name", "django-authd");
    for (const auto& [k, v] : parse_conninfo(over, "database.replica or database.listen")) set(k, v);
    return kv;
}

PGconn* PostgresEngine::connect_params(const Params& params) {
    std::vector<const char*> keys, values;
    for (auto& [k, v] : params) {
        keys.push_back(k.c_str());
        values.push_back(v.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    return PQconnectdbParams(keys.data(), values.data(), 0);
}

PostgresEngine::PostgresEngine(const DatabaseConfig& cfg, int pool_size)
    : query_timeout_ms_(cfg.query_timeout * 1000) {
    auto primary = conninfo(cfg);
    if (cfg.replica.empty()) {
        reads_ = std::make_unique<Route>(primary, describe_of(primary), size_t(pool_size));
    } else {
        auto replica = conninfo(cfg, cfg.replica);
        reads_ = std::make_unique<Route>(replica, describe_of(replica), size_t(pool_size));
        writes_ = std::make_unique<Route>(primary, describe_of(primary), size_t(pool_size));
    }
}

PostgresEngine::~PostgresEngine() = default;

PGconn* PostgresEngine::connect(Route& route) {
    PGconn* c = connect_params(route.params);
    if (!c) throw DbUnavailable(route.describe + ": out of memory");
    if (PQstatus(c) != CONNECTION_OK) {
        // libpq's connection errors never include the password.
        std::string why = one_line(PQerrorMessage(c));
        PQfinish(c);
        throw DbUnavailable(route.describe + ": " + why);
    }
    PQsetnonblocking(c, 1);
    return c;
}

namespace {

// Cancels under way (cancel_in_background), at most kMaxCancels.
std::atomic<int> g_cancels{0};
constexpr int kMaxCancels = 4;

}  // namespace

// PQcancel connects to the server and waits for it to close that connection,
// with no timeout of its own: a server that accepts and never answers (hung,
// or a network that drops packets) would hold the worker forever. So it runs
// on a thread of its own, a few at most; past them the statement is left to
// end by itself. Process exit ends a thread still waiting.
static void cancel_in_background(PGconn* c) {
    PGcancel* cancel = PQgetCancel(c);
    if (!cancel) return;
    if (g_cancels.fetch_add(1) >= kMaxCancels) {
        g_cancels--;
        PQfreeCancel(cancel);
        return;
    }
    try {
        std::thread([cancel] {
            char buf[256];
            PQcancel(cancel, buf, sizeof buf);
            PQfreeCancel(cancel);
            g_cancels--;
        }).detach();
    } catch (const std::exception&) {
        g_cancels--;
        PQfreeCancel(cancel);
    }
}

bool PostgresEngine::run_on(PGconn* c, const std::string& sql, const std::vector<Param>& params,
                            std::vector<Row>& rows, std::string& error, bool& sql_error) {
    auto deadline = Clock::now() + std::chrono::milliseconds(query_timeout_ms_);
    // Every parameter goes as NUL-terminated text (format 0) so the server
    // infers its type from the statement (integer, varchar, timestamptz).
    std::vector<std::string> texts;
    texts.reserve(params.size());
    for (const Param& p : params) texts.push_back(p.is_int ? std::to_string(p.i) : std::string(p.s));
    std::vector<const char*> values;
    for (const auto& t : texts) values.push_back(t.c_str());
    struct Wipe {
        std::vector<std::string>& v;
        ~Wipe() {
            for (auto& t : v) explicit_bzero(t.data(), t.size());
        }
    } wipe{texts};
    if (!PQsendQueryParams(c, sql.c_str(), int(params.size()), nullptr, values.data(), nullptr, nullptr, 0)) {
        error = one_line(PQerrorMessage(c));
        return false;
    }
    for (;;) {
        int f = PQflush(c);
        if (f == 0) break;
        if (f < 0 || !wait_socket(c, true, deadline)) {
            error = f < 0 ? one_line(PQerrorMessage(c)) : "timed out sending the statement";
            return false;
        }
    }
    bool timed_out = false;
    PGresult* res = nullptr;
    bool ok = true;
    for (;;) {
        while (PQisBusy(c)) {
            if (!wait_socket(c, false, deadline)) {
                timed_out = true;
                break;
            }
            if (!PQconsumeInput(c)) {
                error = one_line(PQerrorMessage(c));
                return false;
            }
        }
        if (timed_out) break;
        res = PQgetResult(c);
        if (!res) break;
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_TUPLES_OK) {
            int nr = PQntuples(res), nf = PQnfields(res);
            for (int r = 0; r < nr; ++r) {
                Row row(static_cast<size_t>(nf));
                for (int fi = 0; fi < nf; ++fi)
                    if (!PQgetisnull(res, r, fi))
                        row[size_t(fi)].assign(PQgetvalue(res, r, fi), size_t(PQgetlength(res, r, fi)));
                rows.push_back(std::move(row));
            }
        } else if (st != PGRES_COMMAND_OK && ok) {
            ok = false;
            error = one_line(PQresultErrorMessage(res));
        }
        PQclear(res);
    }
    if (timed_out) {
        // Ask the server to stop; the connection is dropped by the caller.
        cancel_in_background(c);
        error = "statement timed out after " + std::to_string(query_timeout_ms_ / 1000) + " s";
        return false;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        if (error.empty()) error = one_line(PQerrorMessage(c));
        return false;
    }
    if (!ok) sql_error = true;
    return true;
}

std::vector<Row> PostgresEngine::run(const std::string& sql, const std::vector<Param>& params) {
    return run_in(*reads_, sql, params);
}

std::vector<Row> PostgresEngine::write(const std::string& sql, const std::vector<Param>& params) {
    return run_in(writes_ ? *writes_ : *reads_, sql, params);
}

std::vector<Row> PostgresEngine::run_in(Route& route, const std::string& sql, const std::vector<Param>& params) {
    // A pooled connection may have died (server restart): retry once on a
    // fresh one. A fresh connection that fails is final.
    for (int attempt = 0; attempt < 2; ++attempt) {
        PGconn* c = route.pool.take();
        const bool reused = c != nullptr;
        if (!c) c = connect(route);  // throws DbUnavailable
        std::vector<Row> rows;
        std::string error;
        bool sql_error = false;
        bool conn_ok = run_on(c, sql, params, rows, error, sql_error);
        if (conn_ok) {
            if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE)
                route.pool.put(c);
            else
                PQfinish(c);
            if (sql_error) throw DbQueryError(route.describe + ": " + error);
            return rows;
        }
        PQfinish(c);
        bool timeout = error.rfind("statement timed out", 0) == 0;
        if (!reused || timeout) throw DbUnavailable(route.describe + ": " + error);
    }
    throw DbUnavailable(route.describe + ": connection lost");
}

std::string PostgresEngine::now_timestamp() const {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char buf[64];
    snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%06ld+00:00", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
    return buf;
}

std::string PostgresEngine::describe() const {
    return writes_ ? writes_->describe + ", reads from " + reads_->describe : reads_->describe;
}

}  // namespace dj::db
