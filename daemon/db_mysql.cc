// Built into django-authd-mysql.so only (see the Makefile), never into the daemon.
#include "daemon/db_mysql.h"

#include <mariadb/errmsg.h>
#include <mariadb/mysql.h>
#include <mariadb/mysqld_error.h>
#include <string.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>

#include "daemon/mysql_plugin.h"

namespace dj::db {
namespace {

using Clock = std::chrono::steady_clock;

struct Prepared {
    MYSQL_STMT* stmt = nullptr;
    std::vector<int> order;  // parameter index of each '?'
};

// Errors after which the connection cannot be used again: the connector's
// own (2000-2999: gone, lost, timed out, protocol) and the server's "killed"
// and "shutting down".
bool connection_error(unsigned int e) {
    return (e >= 2000 && e < 3000) || e == ER_SERVER_SHUTDOWN || e == ER_CONNECTION_KILLED ||
           e == ER_NET_READ_ERROR || e == ER_NET_READ_INTERRUPTED || e == ER_NET_ERROR_ON_WRITE ||
           e == ER_NET_WRITE_INTERRUPTED || e == 4031 /* MySQL 8: disconnected for inactivity */;
}

// A failure: the message, and whether the connection must be dropped.
struct Failure {
    std::string message;
    bool broken = false;
};

}  // namespace

struct MysqlEngine::Conn {
    MYSQL* my = nullptr;
    std::map<std::string, Prepared> stmts;  // by the statement's text in sql.h

    ~Conn() {
        for (auto& [sql, p] : stmts) mysql_stmt_close(p.stmt);
        if (my) mysql_close(my);
    }

    Failure fail_stmt(MYSQL_STMT* s) const {
        return Failure{mysql_stmt_error(s), connection_error(mysql_stmt_errno(s))};
    }

    // The statement prepared on this connection, or nullptr and `f`.
    Prepared* prepared(const std::string& sql, Failure& f) {
        auto it = stmts.find(sql);
        if (it != stmts.end()) return &it->second;
        MysqlStatement text = mysql_statement(sql);
        MYSQL_STMT* s = mysql_stmt_init(my);
        if (!s) {
            f = Failure{"out of memory", true};
            return nullptr;
        }
        if (mysql_stmt_prepare(s, text.sql.data(), text.sql.size()) != 0) {
            f = fail_stmt(s);
            mysql_stmt_close(s);
            return nullptr;
        }
        return &stmts.emplace(sql, Prepared{s, std::move(text.order)}).first->second;
    }

    // Forgets a statement that failed (its state is unknown).
    void drop(const std::string& sql) {
        auto it = stmts.find(sql);
        if (it == stmts.end()) return;
        mysql_stmt_close(it->second.stmt);
        stmts.erase(it);
    }

    // Runs one statement; false with `f` on failure.
    bool run(const std::string& sql, const std::vector<Param>& params, std::vector<Row>& rows, Failure& f) {
        Prepared* p = prepared(sql, f);
        if (!p) return false;
        MYSQL_STMT* s = p->stmt;
        const size_t np = p->order.size();
        std::vector<MYSQL_BIND> in(np);
        std::vector<long long> ints(np);
        std::vector<unsigned long> lens(np);
        for (size_t k = 0; k < np; ++k) {
            const size_t idx = size_t(p->order[k]);
            if (idx >= params.size()) {
                f = Failure{"statement needs more parameters than given", false};
                return false;
            }
            const Param& pa = params[idx];
            std::memset(&in[k], 0, sizeof in[k]);
            if (pa.is_int) {
                ints[k] = pa.i;
                in[k].buffer_type = MYSQL_TYPE_LONGLONG;
                in[k].buffer = &ints[k];
            } else {
                lens[k] = pa.s.size();
                in[k].buffer_type = MYSQL_TYPE_STRING;
                in[k].buffer = const_cast<char*>(pa.s.data());
                in[k].buffer_length = pa.s.size();
                in[k].length = &lens[k];
            }
        }
        if ((np && mysql_stmt_bind_param(s, in.data()) != 0) || mysql_stmt_execute(s) != 0) {
            const unsigned int e = mysql_stmt_errno(s);
            f = fail_stmt(s);
            drop(sql);
            // A name with characters the column's character set cannot hold
            // (a 4-byte one against a utf8mb3 column) matches nobody. MySQL
            // refuses to compare them ("Illegal mix of collations"), and so
            // does Django there, with an error; the answer here is "no such
            // user", so that anyone cannot make the daemon log database errors.
            if ((e == ER_CANT_AGGREGATE_2COLLATIONS || e == ER_CANT_AGGREGATE_3COLLATIONS ||
                 e == ER_CANT_AGGREGATE_NCOLLATIONS) && sql.rfind("SELECT ", 0) == 0)
                return true;
            return false;
        }
        const unsigned int nf = mysql_stmt_field_count(s);
        if (nf == 0) return true;  // UPDATE
        // Every column is read as text (the connector converts numbers), its
        // length learned first: a zero-sized binding, then fetch_column.
        std::vector<MYSQL_BIND> out(nf);
        std::vector<unsigned long> olen(nf);
        std::vector<my_bool> onull(nf), oerr(nf);
        for (unsigned int i = 0; i < nf; ++i) {
            std::memset(&out[i], 0, sizeof out[i]);
            out[i].buffer_type = MYSQL_TYPE_STRING;
            out[i].length = &olen[i];
            out[i].is_null = &onull[i];
            out[i].error = &oerr[i];
        }
        bool ok = mysql_stmt_bind_result(s, out.data()) == 0;
        while (ok) {
            int r = mysql_stmt_fetch(s);
            if (r == MYSQL_NO_DATA) break;
            if (r == 1) {
                ok = false;
                break;
            }
            Row row(nf);
            for (unsigned int i = 0; i < nf && ok; ++i) {
                if (onull[i] || olen[i] == 0) continue;
                row[i].resize(olen[i]);
                MYSQL_BIND col;
                std::memset(&col, 0, sizeof col);
                unsigned long got = 0;
                col.buffer_type = MYSQL_TYPE_STRING;
                col.buffer = row[i].data();
                col.buffer_length = olen[i];
                col.length = &got;
                ok = mysql_stmt_fetch_column(s, &col, i, 0) == 0;
                if (got < olen[i]) row[i].resize(got);
            }
            if (ok) rows.push_back(std::move(row));
        }
        if (!ok) {
            f = fail_stmt(s);
            drop(sql);
            return false;
        }
        mysql_stmt_free_result(s);
        return true;
    }
};

MysqlEngine::MysqlEngine(const DatabaseConfig& cfg, int pool_size)
    : cfg_(cfg), opts_(parse_mysql_options(cfg.options)), pool_(size_t(pool_size)) {
    describe_ = "mysql " + cfg.name;
    if (!cfg.host.empty()) describe_ += "@" + cfg.host;
    if (!cfg.port.empty()) describe_ += ":" + cfg.port;
    if (!cfg.port.empty() && cfg.port.find_first_not_of("0123456789") != std::string::npos)
        throw std::invalid_argument("database.port: expected a number for engine mysql");
}

void MysqlEngine::close(Conn* c) { delete c; }

MysqlEngine::~MysqlEngine() {
    explicit_bzero(cfg_.password.data(), cfg_.password.size());
}

MysqlEngine::Conn* MysqlEngine::connect() {
    MYSQL* m = mysql_init(nullptr);
    if (!m) throw DbUnavailable(describe_ + ": out of memory");
    auto c = std::make_unique<Conn>();
    c->my = m;
    const unsigned int ct = unsigned(cfg_.connect_timeout), qt = unsigned(cfg_.query_timeout);
    const unsigned int no = 0;
    const my_bool on = 1;
    mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
    mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &qt);
    mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &qt);
    // A server must never read the daemon's files (LOAD DATA LOCAL).
    mysql_optionsv(m, MYSQL_OPT_LOCAL_INFILE, &no);
    if (!cfg_.option_files.empty()) mysql_optionsv(m, MYSQL_READ_DEFAULT_FILE, cfg_.option_files.c_str());
    mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    auto tls = [m](mysql_option o, const std::string& v) {
        if (!v.empty()) mysql_optionsv(m, o, v.c_str());
    };
    tls(MYSQL_OPT_SSL_CA, opts_.ssl_ca);
    tls(MYSQL_OPT_SSL_CAPATH, opts_.ssl_capath);
    tls(MYSQL_OPT_SSL_CERT, opts_.ssl_cert);
    tls(MYSQL_OPT_SSL_KEY, opts_.ssl_key);
    tls(MYSQL_OPT_SSL_CIPHER, opts_.ssl_cipher);
    tls(MYSQL_OPT_SSL_CRL, opts_.ssl_crl);
    tls(MYSQL_OPT_SSL_CRLPATH, opts_.ssl_crlpath);
    tls(MARIADB_OPT_TLS_VERSION, opts_.tls_version);
    if (opts_.ssl) mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &on);
    if (opts_.ssl_verify_server_cert) mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);

    // Empty settings are left to the option file, as Django leaves them.
    auto or_null = [](const std::string& s) { return s.empty() ? nullptr : s.c_str(); };
    const bool unix_socket = !cfg_.host.empty() && cfg_.host[0] == '/';
    const unsigned int port = cfg_.port.empty() ? 0 : unsigned(std::stoul(cfg_.port));
    if (!mysql_real_connect(m, unix_socket ? nullptr : or_null(cfg_.host), or_null(cfg_.user),
                            or_null(cfg_.password), or_null(cfg_.name), port,
                            unix_socket ? cfg_.host.c_str() : nullptr, 0))
        // The connector's messages never include the password.
        throw DbUnavailable(describe_ + ": " + mysql_error(m));
    return c.release();
}

// Past the timeout the server may still be running the statement: end its
// connection from another one, as PQcancel does. The statement's only value
// is the connection id the server gave (mysql_kill is deprecated; KILL takes
// no parameter marker on every server).
void MysqlEngine::kill_query(unsigned long thread_id) {
    try {
        std::unique_ptr<Conn> k(connect());
        const std::string kill = "KILL " + std::to_string(thread_id);
        mysql_real_query(k->my, kill.data(), kill.size());
    } catch (const std::exception&) {
        // The server is unreachable: it will notice the closed connection.
    }
}

std::vector<Row> MysqlEngine::run(const std::string& sql, const std::vector<Param>& params) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        Conn* c = pool_.take();
        const bool reused = c != nullptr;
        if (!c) c = connect();  // throws DbUnavailable
        std::vector<Row> rows;
        Failure f;
        const auto start = Clock::now();
        if (c->run(sql, params, rows, f)) {
            pool_.put(c);
            return rows;
        }
        if (!f.broken) {
            pool_.put(c);
            throw DbUnavailable(describe_ + ": " + f.message);
        }
        const unsigned long thread_id = mysql_thread_id(c->my);
        delete c;
        // The connector's read timeout reports a lost connection: tell it by the clock.
        if (Clock::now() - start >= std::chrono::milliseconds(cfg_.query_timeout * 1000 - 50)) {
            kill_query(thread_id);
            throw DbUnavailable(describe_ + ": statement timed out after " + std::to_string(cfg_.query_timeout) +
                                " s");
        }
        if (!reused) throw DbUnavailable(describe_ + ": " + f.message);
    }
    throw DbUnavailable(describe_ + ": connection lost");
}

std::string MysqlEngine::now_timestamp() const {
    // Django stores UTC in DATETIME(6) columns (USE_TZ = True), without an offset.
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char buf[64];
    snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%06ld", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
    return buf;
}

std::string MysqlEngine::describe() const { return describe_; }

}  // namespace dj::db

extern "C" __attribute__((visibility("default"))) dj::db::Engine* dj_mysql_engine_create(
    const char* abi, const dj::DatabaseConfig* cfg, int pool_size, std::string* error) {
    try {
        if (!abi || std::strcmp(abi, dj::db::kMysqlPluginAbi) != 0) {
            *error = "django-authd-mysql.so does not match this django-authd (install the same version of both)";
            return nullptr;
        }
        static std::once_flag init;
        std::call_once(init, [] { mysql_library_init(0, nullptr, nullptr); });
        return new dj::db::MysqlEngine(*cfg, pool_size);
    } catch (const std::exception& e) {
        *error = e.what();
        return nullptr;
    }
}
