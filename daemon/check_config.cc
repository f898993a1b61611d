#include "daemon/check_config.h"

#include <sys/stat.h>

#include <functional>
#include <utility>

#include "passwords/hashers.h"
#include "daemon/entries.h"
#include "daemon/log.h"
#include "daemon/peer.h"
#include "daemon/sql.h"

namespace dj {

std::vector<std::string> boundary_errors(const Config& cfg, const HostNames& host) {
    const auto& n = cfg.nss;
    // Django ids start at 1: the ranges are base+1 .. max.
    auto out = id_range_problems("uid", n.uid_base + 1, n.uid_max, host.local_uids());
    for (auto& e : out) e = "[nss] uid_base/uid_max: " + e;
    for (auto& e : id_range_problems("gid", n.gid_base + 1, n.gid_max, host.local_gids()))
        out.push_back("[nss] gid_base/gid_max: " + e);
    return out;
}

std::vector<std::string> boundary_warnings(const Config& cfg) {
    std::vector<std::string> out;
    if (!cfg.access.anyone_can_log_in())
        out.push_back("[access] lets nobody log in through PAM: add a line per service, e.g. "
                      "'sshd = ssh-users' (Django groups) or 'django-web = *' (every active user)");
    return out;
}

namespace {

// Whether uid/gid (and no supplementary group: the daemon keeps none) may
// use `path` with the permission bits `want` (4 read, 2 write, 1 search).
bool may_access(const std::string& path, uid_t uid, gid_t gid, unsigned want) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return false;
    if (uid == 0) return true;
    const unsigned bits = st.st_uid == uid ? (st.st_mode >> 6) : st.st_gid == gid ? (st.st_mode >> 3) : st.st_mode;
    return (bits & want) == want;
}

std::string parent_of(const std::string& path) {
    size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

// The directories from / down to `dir` that exist, and whether `who` may
// search each; the first one it may not, or "".
std::string first_unsearchable(const std::string& dir, uid_t uid, gid_t gid) {
    std::string walked;
    size_t pos = 0;
    while (pos != std::string::npos) {
        size_t next = dir.find('/', pos + 1);
        walked = dir.substr(0, next == std::string::npos ? dir.size() : next);
        if (walked.empty()) walked = "/";
        struct stat st;
        if (stat(walked.c_str(), &st) != 0) return "";   // made later (by the daemon or systemd)
        if (!may_access(walked, uid, gid, 1)) return walked;
        pos = next;
    }
    return "";
}

}  // namespace

std::vector<std::string> runtime_errors(const Config& cfg, std::unique_ptr<db::Database>& db,
                                        std::vector<std::string>& warnings) {
    std::vector<std::string> out;
    const bool writable = cfg.passwords.allow_change || cfg.passwords.rehash_on_login ||
                          cfg.passwords.update_last_login || cfg.otp.enabled;
    uid_t uid = 0;
    gid_t gid = 0;
    if (!cfg.daemon.user.empty() && !files_user(cfg.daemon.user, uid, gid))
        out.push_back("[daemon] user: '" + cfg.daemon.user +
                      "' is not in /etc/passwd: create it (e.g. systemd-sysusers) or set another user");
    std::vector<std::string> unknown;
    AuthClients::resolve(cfg.daemon.auth_clients, unknown);
    for (const auto& u : unknown)
        warnings.push_back("[daemon] auth_clients: '" + u + "' is not in /etc/passwd or /etc/group: ignored");

    // Every local user's processes talk to the socket (NSS runs in all of them).
    if (std::string d = first_unsearchable(parent_of(cfg.daemon.socket), 65534, 65534); !d.empty())
        out.push_back("[daemon] socket: other users cannot reach " + d +
                      " (no search permission for others): programs of other users will not see Django "
                      "users; chmod o+x it or put the socket elsewhere");

    if (cfg.database.engine == "sqlite3") {
        const std::string& file = cfg.database.name;
        const std::string dir = parent_of(file);
        const std::string who = cfg.daemon.user.empty() ? "root" : "'" + cfg.daemon.user + "'";
        struct stat st;
        if (stat(file.c_str(), &st) != 0) {
            out.push_back("[database] name: " + file + " does not exist: give the path of the site's db.sqlite3");
            return out;
        }
        if (std::string d = first_unsearchable(dir, uid, gid); !d.empty())
            out.push_back("[database] name: the daemon's user " + who + " cannot reach " + d +
                          " (no search permission)");
        if (!may_access(file, uid, gid, 4))
            out.push_back("[database] name: the daemon's user " + who + " cannot read " + file +
                          " (make it readable by that user or its group)");
        if (writable && !may_access(file, uid, gid, 2))
            out.push_back("[database] name: the daemon's user " + who + " cannot write " + file +
                          ", which allow_change, rehash_on_login, update_last_login or [otp] need");
        if (writable && !may_access(dir, uid, gid, 3))
            out.push_back("[database] name: the daemon's user " + who + " cannot write " + dir +
                          " (SQLite's journal goes beside the database), which the write features need");
    }
    try {
        db = db::open_database(cfg.database, writable, 1);
        db->ping();
    } catch (const std::exception& e) {
        db.reset();
        out.push_back("[database]: cannot open or log in: " + std::string(e.what()) +
                      " (check engine, name, host, port, user and the password)");
        return out;
    }
    // Each query the daemon makes, once, with values that match nothing.
    const std::pair<const char*, std::function<void()>> queries[] = {
        {"user by name", [&] { db->user_by_name(""); }},
        {"user by id", [&] { db->user_by_id(0); }},
        {"users in id order", [&] { db->users_after(0, 1); }},
        {"stored password values", [&] { db->passwords_after(0, 1); }},
        {"group by name", [&] { db->group_by_name(""); }},
        {"group by id", [&] { db->group_by_id(0); }},
        {"groups in id order", [&] { db->groups_after(0, 1); }},
        {"group members", [&] { db->active_members(0); }},
        {"groups of a user", [&] { db->groups_of_user(0); }},
        {"permissions of a user", [&] { db->permissions_of_user(0); }},
    };
    for (const auto& [what, run] : queries) {
        try {
            run();
        } catch (const std::exception& e) {
            out.push_back(std::string("[schema]: the query for ") + what + " fails: " + e.what() +
                          " (check the table and column names of [schema])");
        }
    }
    if (cfg.otp.enabled) {
        // Device id -1 never exists: the same reads and writes as a login.
        try {
            db->totp_devices(0);
            db->totp_accept(-1, 0, 0);
        } catch (const std::exception& e) {
            out.push_back(std::string("[otp]: reading or updating django-otp's TOTP devices fails: ") + e.what() +
                          " (check the totp_* names of [schema], and grant SELECT and UPDATE of last_t and drift)");
        }
    }
    if (cfg.passwords.allow_change || cfg.passwords.rehash_on_login || cfg.passwords.update_last_login) {
        // Django never makes id -1 (its ids start at 1, and fit PostgreSQL's
        // integer): these UPDATEs change no row, yet need what a real one
        // needs (a writable database, the UPDATE grant, the columns).
        try {
            if (cfg.passwords.allow_change || cfg.passwords.rehash_on_login) db->set_password(-1, "!");
            if (cfg.passwords.update_last_login) db->set_last_login(-1);
        } catch (const std::exception& e) {
            out.push_back(std::string("[passwords]: a write feature is on, but writing fails: ") + e.what() +
                          " (grant UPDATE, or turn allow_change, rehash_on_login and update_last_login off)");
        }
    }
    return out;
}

size_t print_hidden_names(FILE* out, const Config& cfg, db::Database& db, const HostNames& host) {
    // Entries without the host's names: only the name and range rules, so
    // that what is printed here is what the host's names add.
    Entries plain(cfg.nss, 0);
    size_t hidden = 0, users = 0, groups = 0;
    constexpr int kPage = 1000;
    for (int64_t after = 0;;) {
        auto rows = db.users_after(after, kPage);
        for (auto& u : rows) {
            after = u.id;
            wipe(u.password);
            if (!plain.user_visible(u.id, u.username)) continue;
            ++users;
            if (const char* why = host.user_conflict(u.username, plain.uid_of(u.id))) {
                fprintf(out, "hidden user '%s' (id %lld): %s\n", log::printable(u.username).c_str(),
                        static_cast<long long>(u.id), why);
                ++hidden;
            }
        }
        if (rows.size() < size_t(kPage)) break;
    }
    for (int64_t after = 0;;) {
        auto rows = db.groups_after(after, kPage);
        for (const auto& g : rows) {
            after = g.id;
            auto name = plain.group_name(g);
            if (!name) continue;
            ++groups;
            if (const char* why = host.group_conflict(*name, plain.gid_of(g.id))) {
                fprintf(out, "hidden group '%s' (id %lld): %s\n", log::printable(*name).c_str(),
                        static_cast<long long>(g.id), why);
                ++hidden;
            }
        }
        if (rows.size() < size_t(kPage)) break;
    }
    if (hidden)
        fprintf(out,
                "%zu Django name(s) are not served: rename them in Django; for groups, [nss] group_prefix "
                "serves every Django group under a name of its own\n",
                hidden);
    fprintf(out, "serves %zu users and %zu groups; %zu names hidden\n", users, groups, hidden);
    std::string rules = "who may log in: default = ";
    auto list = [](const std::vector<std::string>& r) {
        if (r.empty()) return std::string("(nobody)");
        std::string s;
        for (size_t i = 0; i < r.size(); ++i) s += (i ? ", " : "") + r[i];
        return s;
    };
    rules += list(cfg.access.default_rule);
    for (const auto& [service, rule] : cfg.access.services) rules += "; " + service + " = " + list(rule);
    fprintf(out, "%s\n", rules.c_str());
    return hidden;
}

}  // namespace dj
