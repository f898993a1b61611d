// SQLite engine: the embedded default. Connections are opened read-only
// unless a write feature is on, one per concurrent worker (a small pool), and
// every statement runs in its own short autocommit transaction so Django can
// write to the same file (WAL or rollback journal) at any time. A file
// replaced by rename (its inode changed) is noticed at the next request: the
// connections to the old file are closed and new ones opened.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "daemon/config.h"
#include "daemon/sql.h"

struct sqlite3;

namespace dj::db {

class SqliteEngine : public Engine {
public:
    SqliteEngine(const DatabaseConfig& cfg, bool writable, int pool_size);
    ~SqliteEngine() override;
    std::vector<Row> run(const std::string& sql, const std::vector<Param>& params) override;
    std::string now_timestamp() const override;
    std::string describe() const override;

    struct Conn;

private:
    Conn* acquire();
    void release(Conn* c, bool healthy);

    std::string path_;
    bool writable_;
    int busy_timeout_ms_;
    size_t pool_size_;
    std::mutex mutex_;
    std::vector<Conn*> idle_;
};

}  // namespace dj::db
