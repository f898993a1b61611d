// SQLite change watching (see invalidation.h): PRAGMA data_version on a
// read-only connection of its own moves whenever another connection commits.
// A file replaced by rename is a change too (the connection is reopened).
#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>

#include "daemon/invalidation.h"
#include "daemon/log.h"

namespace dj::db {
namespace {

constexpr auto kInterval = std::chrono::milliseconds(250);

struct Watch {
    sqlite3* db = nullptr;
    sqlite3_stmt* st = nullptr;
    dev_t dev = 0;
    ino_t ino = 0;
    ~Watch() { close(); }
    void close() {
        if (st) sqlite3_finalize(st);
        if (db) sqlite3_close_v2(db);
        st = nullptr;
        db = nullptr;
    }
    bool open(const std::string& path) {
        close();
        struct stat sb {};
        if (::stat(path.c_str(), &sb) != 0) return false;
        dev = sb.st_dev;
        ino = sb.st_ino;
        return sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) == SQLITE_OK &&
               sqlite3_busy_timeout(db, 1000) == SQLITE_OK &&
               sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &st, nullptr) == SQLITE_OK;
    }
    bool replaced(const std::string& path) const {
        struct stat sb {};
        return ::stat(path.c_str(), &sb) != 0 || sb.st_dev != dev || sb.st_ino != ino;
    }
    // -1 on failure.
    int64_t version() {
        int64_t v = -1;
        if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return v;
    }
};

}  // namespace

void watch_sqlite(const DatabaseConfig& cfg, std::stop_token stop, Invalidation& inv) {
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock<std::mutex> lock(m);
    Watch w;
    int64_t last = -1;
    bool said = false;
    while (!stop.stop_requested()) {
        if (!w.db || w.replaced(cfg.name)) {
            const bool had = w.db != nullptr;
            if (!w.open(cfg.name)) {
                if (!said) log::say(LOG_WARNING, "change watching: cannot open %s; retrying", cfg.name.c_str());
                said = true;
                w.close();
            } else {
                said = false;
                last = w.version();
                if (had) inv.everything("the database file was replaced");
            }
        } else if (const int64_t v = w.version(); v < 0) {
            w.close();  // reopened at the next round
            inv.unwatched("the database could not be read");  // kept for an outage
        } else if (v != last) {
            last = v;
            inv.everything("the database changed");
        }
        cv.wait_for(lock, stop, kInterval, [] { return false; });
    }
}

}  // namespace dj::db
