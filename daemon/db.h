// What django-authd asks of the Django database, independent of the engine.
// Implementations: SqlDatabase (sql.h) over SQLite (db_sqlite.h) or
// PostgreSQL (db_postgres.h); tests use a fake. All methods are thread-safe.
// Every failure to reach or query the database throws DbUnavailable; one
// where the database answered (an SQL error, an unexpected result) throws
// DbQueryError, so that the circuit breaker (guarded_db.h) knows it answers.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dj::db {

struct UserRow {
    int64_t id = 0;
    std::string username;
    std::string password;   // the encoded hash: never leaves the daemon
    bool is_active = false;
    bool is_staff = false;
    bool is_superuser = false;
    std::string first_name;
    std::string last_name;
};

struct GroupRow {
    int64_t id = 0;
    std::string name;
};

struct MemberRow {
    int64_t id = 0;          // the user's id
    std::string username;
};

// A confirmed django-otp TOTP device (passwords/totp.h reads these fields).
struct TotpDeviceRow {
    int64_t id = 0;
    std::string key;        // hex: a secret like a hash; never leaves the daemon (wipe it)
    int64_t step = 30, t0 = 0, digits = 6, tolerance = 1, drift = 0, last_t = -1;
};

class DbUnavailable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The database answered, with an error: it is reachable.
class DbQueryError : public DbUnavailable {
public:
    using DbUnavailable::DbUnavailable;
};

// Not asked: the circuit breaker is open (guarded_db.h).
class DbRefused : public DbUnavailable {
public:
    using DbUnavailable::DbUnavailable;
};

class Database {
public:
    virtual ~Database() = default;

    virtual std::optional<UserRow> user_by_name(std::string_view username) = 0;
    virtual std::optional<UserRow> user_by_id(int64_t id) = 0;
    // Users with id > after_id in id order, at most `limit`.
    virtual std::vector<UserRow> users_after(int64_t after_id, int limit) = 0;

    // The stored password values of users with id > after_id, in id order,
    // at most `limit`: a page of (id, value). For reading the site's hasher
    // parameters; the values never leave the daemon (wipe them).
    virtual std::vector<std::pair<int64_t, std::string>> passwords_after(int64_t after_id, int limit) = 0;

    virtual std::optional<GroupRow> group_by_name(std::string_view name) = 0;
    virtual std::optional<GroupRow> group_by_id(int64_t id) = 0;
    virtual std::vector<GroupRow> groups_after(int64_t after_id, int limit) = 0;

    // The group's active members, in user id order.
    virtual std::vector<MemberRow> active_members(int64_t group_id) = 0;
    // The user's groups, in group id order.
    virtual std::vector<GroupRow> groups_of_user(int64_t user_id) = 0;
    // "app_label.codename" of user permissions and group permissions.
    virtual std::vector<std::string> permissions_of_user(int64_t user_id) = 0;

    // The stored public key texts of the user ([schema] key_*), unchecked:
    // active ones only and not expired, when the schema names those columns.
    virtual std::vector<std::string> keys_of_user(int64_t user_id) = 0;

    virtual void set_password(int64_t user_id, std::string_view encoded) = 0;
    virtual void set_last_login(int64_t user_id) = 0;

    // django-otp: the user's confirmed TOTP devices, in id order.
    // A Database without them fails closed.
    virtual std::vector<TotpDeviceRow> totp_devices(int64_t /*user_id*/) {
        throw DbQueryError("one-time code devices are not available from this database");
    }
    // Stores an accepted code's step and drift, only if the device's last_t
    // is still below `t` (one statement: of two logins with the same code,
    // one wins). True when the row was changed.
    virtual bool totp_accept(int64_t /*device_id*/, int64_t /*t*/, int64_t /*drift*/) {
        throw DbQueryError("one-time code devices are not available from this database");
    }

    // A trivial query: is the database reachable?
    virtual void ping() = 0;
    // "sqlite3 /srv/site/db.sqlite3" or "postgresql dbname@host": for logs.
    virtual std::string describe() const = 0;
    // "key value" lines about the database's health for the Stats op, each
    // ending in a newline; none by default (the engines leave it to
    // GuardedDatabase).
    virtual std::string status_lines() const { return {}; }
    // Whether set_password and set_last_login go to another server than the
    // reads (a primary, with reads on a replica).
    virtual bool writes_elsewhere() const { return false; }
};

}  // namespace dj::db
