// Database on top of a minimal "run one parameterized statement" engine: the
// SQL text lives here once, built from the configured schema with every
// identifier validated and double-quoted. Engines only execute.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "daemon/config.h"
#include "daemon/db.h"

namespace dj::db {

// A bound parameter: an integer or text. Engines never splice it into SQL.
struct Param {
    bool is_int = false;
    int64_t i = 0;
    std::string_view s;
    static Param integer(int64_t v) { return Param{true, v, {}}; }
    static Param text(std::string_view v) { return Param{false, 0, v}; }
};

// A result row; NULL becomes an empty string.
using Row = std::vector<std::string>;

enum class Placeholder { Dollar /* $1 */, Question /* ?1 */ };

// All statements, with placeholders in the engine's style.
struct Statements {
    std::string user_by_name, user_by_id, users_after, passwords_after;
    std::string group_by_name, group_by_id, groups_after;
    std::string active_members, groups_of_user, permissions_of_user, keys_of_user;
    std::string set_password, set_last_login, ping;
    std::string totp_devices, totp_accept;   // django-otp ([otp])
};
Statements build_statements(const Schema& s, Placeholder style);

class Engine {
public:
    virtual ~Engine() = default;
    // Runs one statement; throws DbUnavailable on any failure.
    virtual std::vector<Row> run(const std::string& sql, const std::vector<Param>& params) = 0;
    // Runs a statement that changes the database (on the primary when reads
    // go to a replica).
    virtual std::vector<Row> write(const std::string& sql, const std::vector<Param>& params) {
        return run(sql, params);
    }
    // Whether write() goes to another server than run().
    virtual bool writes_elsewhere() const { return false; }
    // Text for set_last_login: the engine's timestamp format for "now".
    virtual std::string now_timestamp() const = 0;
    virtual std::string describe() const = 0;
};

class SqlDatabase : public Database {
public:
    SqlDatabase(std::unique_ptr<Engine> engine, Statements st, bool keys_expire = false);

    std::optional<UserRow> user_by_name(std::string_view username) override;
    std::optional<UserRow> user_by_id(int64_t id) override;
    std::vector<UserRow> users_after(int64_t after_id, int limit) override;
    std::vector<std::pair<int64_t, std::string>> passwords_after(int64_t after_id, int limit) override;
    std::optional<GroupRow> group_by_name(std::string_view name) override;
    std::optional<GroupRow> group_by_id(int64_t id) override;
    std::vector<GroupRow> groups_after(int64_t after_id, int limit) override;
    std::vector<MemberRow> active_members(int64_t group_id) override;
    std::vector<GroupRow> groups_of_user(int64_t user_id) override;
    std::vector<std::string> permissions_of_user(int64_t user_id) override;
    std::vector<std::string> keys_of_user(int64_t user_id) override;
    void set_password(int64_t user_id, std::string_view encoded) override;
    void set_last_login(int64_t user_id) override;
    std::vector<TotpDeviceRow> totp_devices(int64_t user_id) override;
    bool totp_accept(int64_t device_id, int64_t t, int64_t drift) override;
    void ping() override;
    std::string describe() const override;
    bool writes_elsewhere() const override { return engine_->writes_elsewhere(); }

private:
    std::unique_ptr<Engine> engine_;
    Statements st_;
    bool keys_expire_ = false;   // keys_of_user takes "now" as $2
};

// The configured engine (sqlite3, postgresql or mysql) wrapped in a SqlDatabase.
// `pool_size`: how many connections may be open at once.
std::unique_ptr<Database> open_database(const DatabaseConfig& cfg, bool writable, int pool_size);

}  // namespace dj::db
