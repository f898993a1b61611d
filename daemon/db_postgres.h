// PostgreSQL engine (libpq). Connections are kept in a small pool and reused;
// a broken one is dropped and the statement retried once on a fresh one, so
// the first request after a server restart succeeds.
//
// Two routes when [database] replica is set: statements that read go to the
// replica's connections ([database] with the replica's keywords over it),
// statements that write (write()) to [database]'s own, the primary. Without
// it both are one route.
//
// No session state and no named prepared statements (each statement is one
// unnamed extended-protocol round trip, PQsendQueryParams), so it works behind
// PgBouncer in transaction pooling mode.
//
// Timeouts: connect_timeout goes into the conninfo. The statement timeout is
// enforced on our side: the statement is sent on a non-blocking connection and
// we poll its socket until the deadline; past it we PQcancel the statement
// and drop the connection. This needs no SET (session state, which PgBouncer
// transaction pooling forbids) and no startup "options" parameter (which
// PgBouncer rejects unless told to ignore it).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "daemon/config.h"
#include "daemon/conn_pool.h"
#include "daemon/sql.h"

typedef struct pg_conn PGconn;
extern "C" void PQfinish(PGconn* conn);

namespace dj::db {

// A libpq message (they end with a newline and may span lines) as one log line.
std::string one_line(const char* msg);

class PostgresEngine : public Engine {
public:
    PostgresEngine(const DatabaseConfig& cfg, int pool_size);
    ~PostgresEngine() override;
    std::vector<Row> run(const std::string& sql, const std::vector<Param>& params) override;
    std::vector<Row> write(const std::string& sql, const std::vector<Param>& params) override;
    bool writes_elsewhere() const override { return writes_ != nullptr; }
    std::string now_timestamp() const override;
    std::string describe() const override;

    using Params = std::vector<std::pair<std::string, std::string>>;
    // The keyword/value pairs given to PQconnectdbParams: [database]'s, then
    // the keywords of `over` (a conninfo string: [database] replica or
    // listen) in their place (for tests too; the password's value is
    // included, so never log this). Throws std::invalid_argument on a
    // conninfo libpq cannot parse.
    static Params conninfo(const DatabaseConfig& cfg, const std::string& over = {});
    // PQconnectdbParams of `params` (expand_dbname 0: the database name is a
    // name, never a conninfo string); the connection may have failed.
    static PGconn* connect_params(const Params& params);

private:
    // Where statements go: its connection parameters and idle connections.
    struct Route {
        Route(Params p, std::string d, size_t pool_size)
            : params(std::move(p)), describe(std::move(d)), pool(pool_size) {}
        Params params;
        std::string describe;
        IdlePool<PGconn, PQfinish> pool;
    };
    PGconn* connect(Route& route);
    std::vector<Row> run_in(Route& route, const std::string& sql, const std::vector<Param>& params);
    // Runs on `c`; returns false when the connection failed (not the SQL).
    bool run_on(PGconn* c, const std::string& sql, const std::vector<Param>& params,
                std::vector<Row>& rows, std::string& error, bool& sql_error);

    int query_timeout_ms_;
    std::unique_ptr<Route> reads_;   // every statement when writes_ is null
    std::unique_ptr<Route> writes_;  // the primary, when reads go to a replica
};

}  // namespace dj::db
