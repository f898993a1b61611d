// SQL text for the Django schema, and Database on top of an Engine.
#include "daemon/sql.h"

#include <stdexcept>

#include "daemon/db_postgres.h"
#include "daemon/db_sqlite.h"
#include "daemon/mysql_plugin.h"
#include "passwords/hashers.h"

namespace dj::db {
namespace {

// Identifiers were validated by the config parser ([A-Za-z_][A-Za-z0-9_]*,
// optionally "schema.table"); quote each part anyway.
std::string q(const std::string& ident) {
    if (!valid_identifier(ident)) {
        size_t dot = ident.find('.');
        if (dot == std::string::npos || !valid_identifier(ident.substr(0, dot)) ||
            !valid_identifier(ident.substr(dot + 1)))
            throw std::invalid_argument("invalid SQL identifier in schema");
        return '"' + ident.substr(0, dot) + "\".\"" + ident.substr(dot + 1) + '"';
    }
    return '"' + ident + '"';
}

std::string col(const char* alias, const std::string& c) { return std::string(alias) + "." + q(c); }

std::string flag(const char* alias, const std::string& c, const char* missing) {
    if (c.empty()) return missing;
    return "CASE WHEN " + col(alias, c) + " THEN 1 ELSE 0 END";
}

std::string text(const char* alias, const std::string& c) {
    return c.empty() ? std::string("''") : col(alias, c);
}

// Statements are written with $N; SQLite gets ?N. No identifier or literal
// here can contain '$' (identifiers are validated), so the rewrite is exact.
std::string styled(std::string sql, Placeholder style) {
    if (style == Placeholder::Question)
        for (char& c : sql)
            if (c == '$') c = '?';
    return sql;
}

}  // namespace

Statements build_statements(const Schema& s, Placeholder style) {
    const std::string ut = q(s.user_table), gt = q(s.group_table), ugt = q(s.user_groups_table);
    const std::string upt = q(s.user_perms_table), gpt = q(s.group_perms_table);
    const std::string pt = q(s.permission_table), ctt = q(s.content_type_table);
    auto user_cols = [&](bool with_password) {
        return col("u", s.user_id) + ", " + col("u", s.user_username) + ", " +
               (with_password ? col("u", s.user_password) : std::string("''")) + ", " +
               flag("u", s.user_is_active, "1") + ", " + flag("u", s.user_is_staff, "0") + ", " +
               flag("u", s.user_is_superuser, "0") + ", " + text("u", s.user_first_name) + ", " +
               text("u", s.user_last_name);
    };
    const std::string active = s.user_is_active.empty() ? "" : " AND " + col("u", s.user_is_active);

    Statements st;
    st.user_by_name = "SELECT " + user_cols(true) + " FROM " + ut + " u WHERE " +
                      col("u", s.user_username) + " = $1";
    st.user_by_id = "SELECT " + user_cols(false) + " FROM " + ut + " u WHERE " + col("u", s.user_id) + " = $1";
    st.users_after = "SELECT " + user_cols(false) + " FROM " + ut + " u WHERE " + col("u", s.user_id) +
                     " > $1 ORDER BY " + col("u", s.user_id) + " LIMIT $2";
    st.passwords_after = "SELECT " + col("u", s.user_id) + ", " + col("u", s.user_password) + " FROM " + ut +
                         " u WHERE " + col("u", s.user_id) + " > $1 ORDER BY " + col("u", s.user_id) + " LIMIT $2";
    const std::string gcols = col("g", s.group_id) + ", " + col("g", s.group_name);
    st.group_by_name = "SELECT " + gcols + " FROM " + gt + " g WHERE " + col("g", s.group_name) + " = $1";
    st.group_by_id = "SELECT " + gcols + " FROM " + gt + " g WHERE " + col("g", s.group_id) + " = $1";
    st.groups_after = "SELECT " + gcols + " FROM " + gt + " g WHERE " + col("g", s.group_id) +
                      " > $1 ORDER BY " + col("g", s.group_id) + " LIMIT $2";
    // One primary-key probe per membership row (a scalar subquery), never a
    // scan of the user table: a large group costs its size, not the site's.
    // Inactive members come back NULL (an empty string) and are skipped.
    st.active_members = "SELECT " + col("ug", s.user_groups_user) + ", (SELECT " + col("u", s.user_username) + " FROM " + ut + " u WHERE " +
                        col("u", s.user_id) + " = " + col("ug", s.user_groups_user) + active + ") FROM " + ugt +
                        " ug WHERE " + col("ug", s.user_groups_group) + " = $1 ORDER BY " +
                        col("ug", s.user_groups_user);
    st.groups_of_user = "SELECT " + gcols + " FROM " + ugt + " ug JOIN " + gt + " g ON " +
                        col("g", s.group_id) + " = " + col("ug", s.user_groups_group) + " WHERE " +
                        col("ug", s.user_groups_user) + " = $1 ORDER BY " + col("g", s.group_id);
    const std::string perm_tail = " JOIN " + pt + " p ON p.\"id\" = ";
    const std::string ct_join = " JOIN " + ctt + " ct ON ct.\"id\" = p.\"content_type_id\"";
    st.permissions_of_user =
        "SELECT ct.\"app_label\", p.\"codename\" FROM " + upt + " up" + perm_tail +
        col("up", s.user_perms_perm) + ct_join + " WHERE " + col("up", s.user_perms_user) + " = $1" +
        " UNION SELECT ct.\"app_label\", p.\"codename\" FROM " + ugt + " ug JOIN " + gpt + " gp ON " +
        col("gp", s.group_perms_group) + " = " + col("ug", s.user_groups_group) + perm_tail +
        col("gp", s.group_perms_perm) + ct_join + " WHERE " + col("ug", s.user_groups_user) + " = $1";
    // Keys: the engine's "now" ($2) against an expiry column, so that the
    // comparison is in the column's own format whatever the session's zone.
    st.keys_of_user = "SELECT " + col("k", s.key_key) + " FROM " + q(s.key_table) + " k WHERE " +
                      col("k", s.key_user) + " = $1" +
                      (s.key_active.empty() ? "" : " AND " + col("k", s.key_active)) +
                      (s.key_expires.empty() ? ""
                                             : " AND (" + col("k", s.key_expires) + " IS NULL OR " +
                                                   col("k", s.key_expires) + " > $2)") +
                      " ORDER BY " + col("k", s.key_key);
    st.set_password = "UPDATE " + ut + " SET " + q(s.user_password) + " = $2 WHERE " + q(s.user_id) + " = $1";
    if (!s.user_last_login.empty())
        st.set_last_login = "UPDATE " + ut + " SET " + q(s.user_last_login) + " = $2 WHERE " +
                            q(s.user_id) + " = $1";
    st.ping = "SELECT 1";
    // django-otp's TOTPDevice. The UPDATE is the replay guard: it changes
    // the row only while last_t is below the accepted step, and says so by
    // returning the id (SQLite 3.35+, PostgreSQL; [otp] is refused on MySQL).
    const std::string tt = q(s.totp_table);
    st.totp_devices = "SELECT " + col("d", s.totp_id) + ", " + col("d", s.totp_key) + ", " + col("d", s.totp_step) +
                      ", " + col("d", s.totp_t0) + ", " + col("d", s.totp_digits) + ", " +
                      col("d", s.totp_tolerance) + ", " + col("d", s.totp_drift) + ", " + col("d", s.totp_last_t) +
                      " FROM " + tt + " d WHERE " + col("d", s.totp_user) + " = $1 AND " +
                      col("d", s.totp_confirmed) + " ORDER BY " + col("d", s.totp_id);
    st.totp_accept = "UPDATE " + tt + " SET " + q(s.totp_last_t) + " = $2, " + q(s.totp_drift) + " = $3 WHERE " +
                     q(s.totp_id) + " = $1 AND " + q(s.totp_last_t) + " < $2 RETURNING " + q(s.totp_id);

    for (std::string* p : {&st.user_by_name, &st.user_by_id, &st.users_after, &st.passwords_after, &st.group_by_name,
                           &st.group_by_id, &st.groups_after, &st.active_members, &st.groups_of_user,
                           &st.permissions_of_user, &st.keys_of_user, &st.set_password, &st.set_last_login,
                           &st.totp_devices, &st.totp_accept})
        *p = styled(*p, style);
    return st;
}

namespace {

int64_t to_i64(const std::string& s) {
    try {
        return std::stoll(s);
    } catch (...) {
        throw DbQueryError("unexpected non-integer id in the database");
    }
}

UserRow to_user(Row& r) {
    if (r.size() < 8) throw DbQueryError("unexpected column count");
    UserRow u;
    u.id = to_i64(r[0]);
    u.username = std::move(r[1]);
    u.password = std::move(r[2]);
    u.is_active = r[3] == "1";
    u.is_staff = r[4] == "1";
    u.is_superuser = r[5] == "1";
    u.first_name = std::move(r[6]);
    u.last_name = std::move(r[7]);
    return u;
}

GroupRow to_group(Row& r) {
    if (r.size() < 2) throw DbQueryError("unexpected column count");
    return GroupRow{to_i64(r[0]), std::move(r[1])};
}

}  // namespace

SqlDatabase::SqlDatabase(std::unique_ptr<Engine> engine, Statements st, bool keys_expire)
    : engine_(std::move(engine)), st_(std::move(st)), keys_expire_(keys_expire) {}

std::optional<UserRow> SqlDatabase::user_by_name(std::string_view username) {
    auto rows = engine_->run(st_.user_by_name, {Param::text(username)});
    if (rows.empty()) return std::nullopt;
    return to_user(rows[0]);
}

std::optional<UserRow> SqlDatabase::user_by_id(int64_t id) {
    auto rows = engine_->run(st_.user_by_id, {Param::integer(id)});
    if (rows.empty()) return std::nullopt;
    return to_user(rows[0]);
}

std::vector<UserRow> SqlDatabase::users_after(int64_t after_id, int limit) {
    auto rows = engine_->run(st_.users_after, {Param::integer(after_id), Param::integer(limit)});
    std::vector<UserRow> out;
    out.reserve(rows.size());
    for (auto& r : rows) out.push_back(to_user(r));
    return out;
}

std::vector<std::pair<int64_t, std::string>> SqlDatabase::passwords_after(int64_t after_id, int limit) {
    auto rows = engine_->run(st_.passwords_after, {Param::integer(after_id), Param::integer(limit)});
    std::vector<std::pair<int64_t, std::string>> out;
    out.reserve(rows.size());
    for (auto& r : rows) {
        if (r.size() < 2) throw DbQueryError("unexpected column count");
        out.emplace_back(to_i64(r[0]), std::move(r[1]));
    }
    return out;
}

std::optional<GroupRow> SqlDatabase::group_by_name(std::string_view name) {
    auto rows = engine_->run(st_.group_by_name, {Param::text(name)});
    if (rows.empty()) return std::nullopt;
    return to_group(rows[0]);
}

std::optional<GroupRow> SqlDatabase::group_by_id(int64_t id) {
    auto rows = engine_->run(st_.group_by_id, {Param::integer(id)});
    if (rows.empty()) return std::nullopt;
    return to_group(rows[0]);
}

std::vector<GroupRow> SqlDatabase::groups_after(int64_t after_id, int limit) {
    auto rows = engine_->run(st_.groups_after, {Param::integer(after_id), Param::integer(limit)});
    std::vector<GroupRow> out;
    out.reserve(rows.size());
    for (auto& r : rows) out.push_back(to_group(r));
    return out;
}

std::vector<MemberRow> SqlDatabase::active_members(int64_t group_id) {
    auto rows = engine_->run(st_.active_members, {Param::integer(group_id)});
    std::vector<MemberRow> out;
    out.reserve(rows.size());
    for (auto& r : rows)
        if (r.size() == 2 && !r[1].empty()) out.push_back(MemberRow{to_i64(r[0]), std::move(r[1])});
    return out;
}

std::vector<GroupRow> SqlDatabase::groups_of_user(int64_t user_id) {
    auto rows = engine_->run(st_.groups_of_user, {Param::integer(user_id)});
    std::vector<GroupRow> out;
    for (auto& r : rows) out.push_back(to_group(r));
    return out;
}

std::vector<std::string> SqlDatabase::permissions_of_user(int64_t user_id) {
    auto rows = engine_->run(st_.permissions_of_user, {Param::integer(user_id)});
    std::vector<std::string> out;
    for (auto& r : rows)
        if (r.size() >= 2) out.push_back(r[0] + "." + r[1]);
    return out;
}

std::vector<std::string> SqlDatabase::keys_of_user(int64_t user_id) {
    std::vector<Row> rows;
    if (keys_expire_) {
        const std::string now = engine_->now_timestamp();
        rows = engine_->run(st_.keys_of_user, {Param::integer(user_id), Param::text(now)});
    } else {
        rows = engine_->run(st_.keys_of_user, {Param::integer(user_id)});
    }
    std::vector<std::string> out;
    for (auto& r : rows)
        if (!r.empty()) out.push_back(std::move(r[0]));
    return out;
}

void SqlDatabase::set_password(int64_t user_id, std::string_view encoded) {
    engine_->write(st_.set_password, {Param::integer(user_id), Param::text(encoded)});
}

void SqlDatabase::set_last_login(int64_t user_id) {
    if (st_.set_last_login.empty()) return;
    std::string now = engine_->now_timestamp();
    engine_->write(st_.set_last_login, {Param::integer(user_id), Param::text(now)});
}

std::vector<TotpDeviceRow> SqlDatabase::totp_devices(int64_t user_id) {
    auto rows = engine_->run(st_.totp_devices, {Param::integer(user_id)});
    std::vector<TotpDeviceRow> out;
    for (auto& r : rows) {
        if (r.size() < 8) {
            for (auto& f : r) wipe(f);
            throw DbQueryError("unexpected column count");
        }
        TotpDeviceRow d;
        d.key = std::move(r[1]);
        try {
            d.id = to_i64(r[0]);
            d.step = to_i64(r[2]);
            d.t0 = to_i64(r[3]);
            d.digits = to_i64(r[4]);
            d.tolerance = to_i64(r[5]);
            d.drift = to_i64(r[6]);
            d.last_t = to_i64(r[7]);
        } catch (...) {
            wipe(d.key);
            for (auto& x : out) wipe(x.key);
            throw;
        }
        out.push_back(std::move(d));
    }
    return out;
}

bool SqlDatabase::totp_accept(int64_t device_id, int64_t t, int64_t drift) {
    auto rows = engine_->write(st_.totp_accept, {Param::integer(device_id), Param::integer(t), Param::integer(drift)});
    return !rows.empty();
}

void SqlDatabase::ping() { engine_->run(st_.ping, {}); }

std::string SqlDatabase::describe() const { return engine_->describe(); }

std::unique_ptr<Database> open_database(const DatabaseConfig& cfg, bool writable, int pool_size) {
    const bool keys_expire = !cfg.schema.key_expires.empty();
    if (cfg.engine == "postgresql")
        return std::make_unique<SqlDatabase>(std::make_unique<PostgresEngine>(cfg, pool_size),
                                             build_statements(cfg.schema, Placeholder::Dollar), keys_expire);
    if (cfg.engine == "mysql")  // the engine rewrites $N for MySQL (mysql_text.h)
        return std::make_unique<SqlDatabase>(open_mysql_engine(cfg, pool_size),
                                             build_statements(cfg.schema, Placeholder::Dollar), keys_expire);
    return std::make_unique<SqlDatabase>(std::make_unique<SqliteEngine>(cfg, writable, pool_size),
                                         build_statements(cfg.schema, Placeholder::Question), keys_expire);
}

}  // namespace dj::db
