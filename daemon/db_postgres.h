// PostgreSQL engine (libpq). Connections are kept in a small pool and reused;
// a broken one is dropped and the statement retried once on a fresh one, so
// the first request after a server restart succeeds.
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

#include <string>
#include <vector>

#include "daemon/config.h"
#include "daemon/conn_pool.h"
#include "daemon/sql.h"

typedef struct pg_conn PGconn;
extern "C" void PQfinish(PGconn* conn);

namespace dj::db {

class PostgresEngine : public Engine {
public:
    PostgresEngine(const DatabaseConfig& cfg, int pool_size);
    ~PostgresEngine() override;
    std::vector<Row> run(const std::string& sql, const std::vector<Param>& params) override;
    std::string now_timestamp() const override;
    std::string describe() const override;

    // The keyword/value pairs given to PQconnectdbParams (for tests; the
    // password's value is included, so never log this).
    static std::vector<std::pair<std::string, std::string>> conninfo(const DatabaseConfig& cfg);

private:
    PGconn* connect();
    void release(PGconn* c, bool healthy);
    // Runs on `c`; returns false when the connection failed (not the SQL).
    bool run_on(PGconn* c, const std::string& sql, const std::vector<Param>& params,
                std::vector<Row>& rows, std::string& error, bool& sql_error);

    std::vector<std::pair<std::string, std::string>> params_;
    std::string describe_;
    int query_timeout_ms_;
    IdlePool<PGconn, PQfinish> pool_;
};

}  // namespace dj::db
