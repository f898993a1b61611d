#include "daemon/db_sqlite.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <ctime>
#include <memory>
#include <unordered_map>

#include "daemon/log.h"

namespace dj::db {

namespace {

// The file's identity, to notice a database replaced by rename (a new file
// moved over the old name): open connections would go on reading the old one.
bool file_id(const std::string& path, dev_t& dev, ino_t& ino) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return false;
    dev = st.st_dev;
    ino = st.st_ino;
    return true;
}

}  // namespace

struct SqliteEngine::Conn {
    sqlite3* db = nullptr;
    dev_t dev = 0;   // the file when it was opened (taken before the open)
    ino_t ino = 0;
    std::unordered_map<std::string, sqlite3_stmt*> stmts;  // prepared once per connection
    ~Conn() {
        for (auto& [sql, st] : stmts) sqlite3_finalize(st);
        if (db) sqlite3_close_v2(db);
    }
};

SqliteEngine::SqliteEngine(const DatabaseConfig& cfg, bool writable, int pool_size)
    : path_(cfg.name),
      writable_(writable),
      busy_timeout_ms_(cfg.query_timeout * 1000),
      pool_size_(size_t(pool_size > 0 ? pool_size : 1)) {}

SqliteEngine::~SqliteEngine() {
    for (Conn* c : idle_) delete c;
}

SqliteEngine::Conn* SqliteEngine::acquire() {
    dev_t dev = 0;
    ino_t ino = 0;
    const bool known = file_id(path_, dev, ino);
    for (;;) {
        Conn* c = nullptr;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (idle_.empty()) break;
            c = idle_.back();
            idle_.pop_back();
        }
        if (!known || (c->dev == dev && c->ino == ino)) return c;
        // Replaced (or gone): this connection reads a file nobody else sees.
        log::say(LOG_NOTICE, "sqlite3 %s: the file was replaced; reopening", path_.c_str());
        delete c;
    }
    auto c = std::make_unique<Conn>();
    c->dev = dev;
    c->ino = ino;
    int flags = (writable_ ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path_.c_str(), &c->db, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string why = c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc);
        throw DbUnavailable("sqlite3 " + path_ + ": " + why);
    }
    sqlite3_busy_timeout(c->db, busy_timeout_ms_);
    sqlite3_extended_result_codes(c->db, 1);
    return c.release();
}

void SqliteEngine::release(Conn* c, bool healthy) {
    if (healthy) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (idle_.size() < pool_size_) {
            idle_.push_back(c);
            return;
        }
    }
    delete c;
}

// Whether an error says that the file was read and the statement refused
// (no such table, a read-only database): not an outage for the breaker
// (guarded_db.h). A lock held too long, an I/O error or a file that cannot
// be opened are.
static bool answered_error(int rc) {
    const int primary = rc & 0xff;
    return primary != SQLITE_BUSY && primary != SQLITE_LOCKED && primary != SQLITE_IOERR &&
           primary != SQLITE_CANTOPEN;
}

std::vector<Row> SqliteEngine::run(const std::string& sql, const std::vector<Param>& params) {
    Conn* c = acquire();
    std::vector<Row> rows;
    std::string error;
    bool healthy = true, answered = false;
    sqlite3_stmt* st = nullptr;
    auto it = c->stmts.find(sql);
    if (it != c->stmts.end()) {
        st = it->second;
    } else if (int prc = sqlite3_prepare_v3(c->db, sql.c_str(), int(sql.size()), SQLITE_PREPARE_PERSISTENT, &st,
                                            nullptr);
               prc == SQLITE_OK) {
        c->stmts.emplace(sql, st);
    } else {
        error = sqlite3_errmsg(c->db);
        healthy = false;
        answered = answered_error(prc);
    }
    if (st) {
        int rc = SQLITE_OK;
        for (size_t i = 0; i < params.size() && rc == SQLITE_OK; ++i) {
            const Param& p = params[i];
            rc = p.is_int ? sqlite3_bind_int64(st, int(i + 1), p.i)
                          : sqlite3_bind_text(st, int(i + 1), p.s.data(), int(p.s.size()), SQLITE_TRANSIENT);
        }
        while (rc == SQLITE_OK || rc == SQLITE_ROW) {
            rc = sqlite3_step(st);
            if (rc != SQLITE_ROW) break;
            int n = sqlite3_column_count(st);
            Row r(static_cast<size_t>(n));
            for (int i = 0; i < n; ++i) {
                const unsigned char* t = sqlite3_column_text(st, i);
                if (t) r[size_t(i)].assign(reinterpret_cast<const char*>(t), size_t(sqlite3_column_bytes(st, i)));
            }
            rows.push_back(std::move(r));
        }
        if (rc != SQLITE_DONE) {
            error = sqlite3_errmsg(c->db);
            // Busy/locked: the connection is fine, the writer held the lock too long.
            int primary = rc & 0xff;
            healthy = primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
            answered = answered_error(rc);
        }
        // Reset ends the implicit read transaction at once: short transactions.
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    release(c, healthy);
    if (!error.empty() && answered) throw DbQueryError("sqlite3 " + path_ + ": " + error);
    if (!error.empty()) throw DbUnavailable("sqlite3 " + path_ + ": " + error);
    return rows;
}

std::string SqliteEngine::now_timestamp() const {
    // Django stores aware datetimes in SQLite as naive UTC text.
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char buf[64];
    snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%06ld", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
    return buf;
}

std::string SqliteEngine::describe() const { return "sqlite3 " + path_; }

}  // namespace dj::db
