// MySQL / MariaDB engine (MariaDB Connector/C, libmariadb). Built into its
// own plugin, django-authd-mysql.so, so the daemon links no client library
// for it: daemon/mysql_plugin.h loads the plugin when engine = mysql.
//
// As the PostgreSQL engine: a small pool of connections, each statement a
// server-side prepared statement (kept per connection, so a lookup is one
// round trip), a broken reused connection dropped and the statement retried
// once on a fresh one (the first request after a server restart succeeds).
//
// Connection settings follow Django's mysql backend: a host starting with
// '/' is the Unix socket; option_files is OPTIONS['read_default_file'] (its
// [client] groups fill what the configuration leaves empty); the connection
// character set is utf8mb4. Timeouts: connect_timeout, and query_timeout as
// the connector's read and write timeouts; past it the connection is dropped
// and its server connection is ended (KILL, from a fresh
// connection), as PQcancel does for PostgreSQL.
#pragma once

#include <string>
#include <vector>

#include "daemon/config.h"
#include "daemon/conn_pool.h"
#include "daemon/mysql_text.h"
#include "daemon/sql.h"

namespace dj::db {

class MysqlEngine : public Engine {
public:
    MysqlEngine(const DatabaseConfig& cfg, int pool_size);
    ~MysqlEngine() override;
    std::vector<Row> run(const std::string& sql, const std::vector<Param>& params) override;
    std::string now_timestamp() const override;
    std::string describe() const override;

    struct Conn;
    static void close(Conn* c);

private:
    Conn* connect();
    void kill_query(unsigned long thread_id);

    DatabaseConfig cfg_;
    MysqlOptions opts_;
    std::string describe_;
    IdlePool<Conn, close> pool_;
};

}  // namespace dj::db

// The plugin's one entry point (looked up by daemon/mysql_plugin.cc): a new
// engine, or nullptr with the reason in *error. `abi` must be kMysqlPluginAbi
// (the daemon and the plugin come from the same build).
extern "C" dj::db::Engine* dj_mysql_engine_create(const char* abi, const dj::DatabaseConfig* cfg,
                                                  int pool_size, std::string* error);
