// The text side of the MySQL/MariaDB engine, kept apart from the connector
// so it is unit-tested and checked by the daemon without loading the plugin
// (db_mysql.h): the statements of sql.h in MySQL's dialect, and the
// database.options keys this engine understands.
#pragma once

#include <string>
#include <vector>

namespace dj::db {

// A statement written with $N placeholders and "quoted" identifiers (as
// build_statements makes them) in MySQL's form: `quoted` identifiers (no
// ANSI_QUOTES session state needed) and positional '?' markers. `order[k]`
// is the 0-based index of the parameter bound to the k-th '?' ($1 may appear
// twice, $2 before $1).
struct MysqlStatement {
    std::string sql;
    std::vector<int> order;
};
MysqlStatement mysql_statement(const std::string& dollar_sql);

// database.options for engine = mysql: whitespace-separated key=value pairs,
// the TLS settings of Django's OPTIONS['ssl'] (ca, capath, cert, key, cipher)
// and of the connector. Throws std::invalid_argument naming a bad pair.
struct MysqlOptions {
    std::string ssl_ca, ssl_capath, ssl_cert, ssl_key, ssl_cipher, ssl_crl, ssl_crlpath, tls_version;
    bool ssl = false;                     // refuse a connection without TLS
    bool ssl_verify_server_cert = false;  // the server's certificate and name
};
MysqlOptions parse_mysql_options(const std::string& text);

}  // namespace dj::db
