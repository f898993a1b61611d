// Reading and checking django-auth.conf. See config/django-auth.conf for the
// meaning of each key.
#include "daemon/config.h"

#include "common/shared_cache.h"

#include <ini.h>
#include <pwd.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>

namespace dj {
namespace {

std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return {};
    size_t e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

// inih strips " ;" comments; we also accept " #" comments after a value
// (except for the password, where '#' may be part of the secret).
std::string strip_hash_comment(const std::string& v) {
    for (size_t i = 1; i < v.size(); ++i)
        if (v[i] == '#' && (v[i - 1] == ' ' || v[i - 1] == '\t')) return trim(v.substr(0, i));
    return v;
}

bool parse_uint(const std::string& v, uint64_t max, uint64_t& out) {
    if (v.empty() || v.size() > 20) return false;
    uint64_t n = 0;
    for (char c : v) {
        if (c < '0' || c > '9') return false;
        n = n * 10 + uint64_t(c - '0');
        if (n > max) return false;
    }
    out = n;
    return true;
}

std::string lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return s;
}

bool parse_bool(const std::string& v, bool& out) {
    std::string l;
    for (char c : v) l += char(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (l == "yes" || l == "true" || l == "on" || l == "1") return out = true, true;
    if (l == "no" || l == "false" || l == "off" || l == "0") return out = false, true;
    return false;
}

// A table name may be schema-qualified once: "schema.table".
bool valid_table(const std::string& s) {
    size_t dot = s.find('.');
    if (dot == std::string::npos) return valid_identifier(s);
    return valid_identifier(s.substr(0, dot)) && valid_identifier(s.substr(dot + 1));
}

// An [ssh] allowed_options entry: an authorized_keys option name (letters,
// digits, '-'), with a trailing '=' when it is allowed with a value.
bool option_entry(std::string_view e) {
    if (!e.empty() && e.back() == '=') e.remove_suffix(1);
    if (e.empty() || e.size() > 64) return false;
    for (char c : e)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) return false;
    return true;
}

struct Parser {
    Config* cfg;
    std::string error;  // first error, without the line (added by the caller)

    using Setter = std::function<bool(const std::string&, std::string&)>;
    std::map<std::string, Setter> setters;

    void str(const char* key, std::string& field) {
        setters[key] = [&field](const std::string& v, std::string&) { field = v; return true; };
    }
    void ident(const char* key, std::string& field, bool optional, bool table = false) {
        setters[key] = [&field, optional, table](const std::string& v, std::string& why) {
            if (v.empty() && optional) return field = v, true;
            if (table ? !valid_table(v) : !valid_identifier(v)) {
                why = "not a valid SQL identifier";
                return false;
            }
            field = v;
            return true;
        };
    }
    template <class T>
    void num(const char* key, T& field, uint64_t min, uint64_t max) {
        setters[key] = [&field, min, max](const std::string& v, std::string& why) {
            uint64_t n;
            if (!parse_uint(v, max, n) || n < min) {
                why = "expected a number from " + std::to_string(min) + " to " + std::to_string(max);
                return false;
            }
            field = static_cast<T>(n);
            return true;
        };
    }
    void flag(const char* key, bool& field) {
        setters[key] = [&field](const std::string& v, std::string& why) {
            if (!parse_bool(v, field)) return why = "expected yes or no", false;
            return true;
        };
    }
    void abs_path(const char* key, std::string& field) {
        setters[key] = [&field](const std::string& v, std::string& why) {
            if (v.empty() || v[0] != '/') return why = "must be an absolute path", false;
            field = v;
            return true;
        };
    }
    void list(const char* key, std::vector<std::string>& field) {
        setters[key] = [&field](const std::string& v, std::string&) {
            field = split_list(v);
            return true;
        };
    }

    explicit Parser(Config* config) : cfg(config) {
        auto& d = cfg->database;
        setters["database.engine"] = [&d](const std::string& v, std::string& why) {
            if (v != "sqlite3" && v != "postgresql" && v != "mysql")
                return why = "expected sqlite3, postgresql or mysql", false;
            d.engine = v;
            return true;
        };
        str("database.name", d.name);
        str("database.user", d.user);
        str("database.password", d.password);
        str("database.password_file", d.password_file);
        str("database.host", d.host);
        str("database.port", d.port);
        str("database.options", d.options);
        str("database.replica", d.replica);
        str("database.listen", d.listen);
        setters["database.option_files"] = [&d](const std::string& v, std::string& why) {
            if (!v.empty() && v[0] != '/') return why = "must be an absolute path (or empty: none)", false;
            d.option_files = v;
            return true;
        };
        num("database.connect_timeout", d.connect_timeout, 1, 600);
        num("database.query_timeout", d.query_timeout, 1, 600);

        auto& s = d.schema;
        ident("schema.user_table", s.user_table, false, true);
        ident("schema.user_id", s.user_id, false);
        ident("schema.user_username", s.user_username, false);
        ident("schema.user_password", s.user_password, false);
        ident("schema.user_is_active", s.user_is_active, true);
        ident("schema.user_is_staff", s.user_is_staff, true);
        ident("schema.user_is_superuser", s.user_is_superuser, true);
        ident("schema.user_first_name", s.user_first_name, true);
        ident("schema.user_last_name", s.user_last_name, true);
        ident("schema.user_last_login", s.user_last_login, true);
        ident("schema.group_table", s.group_table, false, true);
        ident("schema.group_id", s.group_id, false);
        ident("schema.group_name", s.group_name, false);
        ident("schema.user_groups_table", s.user_groups_table, false, true);
        ident("schema.user_groups_user", s.user_groups_user, false);
        ident("schema.user_groups_group", s.user_groups_group, false);
        ident("schema.user_perms_table", s.user_perms_table, false, true);
        ident("schema.user_perms_user", s.user_perms_user, false);
        ident("schema.user_perms_perm", s.user_perms_perm, false);
        ident("schema.group_perms_table", s.group_perms_table, false, true);
        ident("schema.group_perms_group", s.group_perms_group, false);
        ident("schema.group_perms_perm", s.group_perms_perm, false);
        ident("schema.permission_table", s.permission_table, false, true);
        ident("schema.content_type_table", s.content_type_table, false, true);
        ident("schema.totp_table", s.totp_table, false, true);
        ident("schema.totp_id", s.totp_id, false);
        ident("schema.totp_user", s.totp_user, false);
        ident("schema.totp_confirmed", s.totp_confirmed, false);
        ident("schema.totp_key", s.totp_key, false);
        ident("schema.totp_step", s.totp_step, false);
        ident("schema.totp_t0", s.totp_t0, false);
        ident("schema.totp_digits", s.totp_digits, false);
        ident("schema.totp_tolerance", s.totp_tolerance, false);
        ident("schema.totp_drift", s.totp_drift, false);
        ident("schema.totp_last_t", s.totp_last_t, false);
        ident("schema.key_table", s.key_table, false, true);
        ident("schema.key_user", s.key_user, false);
        ident("schema.key_key", s.key_key, false);
        ident("schema.key_active", s.key_active, true);
        ident("schema.key_expires", s.key_expires, true);

        auto& dm = cfg->daemon;
        str("daemon.socket", dm.socket);
        str("daemon.user", dm.user);
        list("daemon.auth_clients", dm.auth_clients);
        num("daemon.event_threads", dm.event_threads, 0, 64);
        num("daemon.lookup_threads", dm.lookup_threads, 0, 256);
        num("daemon.auth_threads", dm.auth_threads, 0, 256);
        num("daemon.max_connections", dm.max_connections, 1, 65536);
        num("daemon.idle_timeout", dm.idle_timeout, 1, 86400);
        num("daemon.request_timeout", dm.request_timeout, 1, 3600);
        num("daemon.max_connections_per_uid", dm.max_connections_per_uid, 0, 65536);
        num("daemon.max_pending_auth", dm.max_pending_auth, 1, 1000000);
        flag("daemon.debug", dm.debug);

        auto& c = cfg->cache;
        num("cache.positive_ttl", c.positive_ttl, 0, 86400);
        num("cache.negative_ttl", c.negative_ttl, 0, 86400);
        num("cache.max_entries", c.max_entries, 0, 100000000);
        num("cache.max_bytes", c.max_bytes, 0, uint64_t(1) << 40);
        flag("cache.invalidate", c.invalidate);
        setters["cache.shared_slots"] = [&c](const std::string& v, std::string& why) {
            uint64_t n;
            if (!parse_uint(v, shared_cache::kMaxSlotCount, n) || (n & (n - 1)) != 0)
                return why = "expected 0 or a power of two up to " + std::to_string(shared_cache::kMaxSlotCount),
                       false;
            c.shared_slots = uint32_t(n);
            return true;
        };
        setters["cache.shared_slot_size"] = [&c](const std::string& v, std::string& why) {
            uint64_t n;
            if (!parse_uint(v, shared_cache::kMaxSlotSize, n) || n < 128 || n % 64 != 0)
                return why = "expected a multiple of 64 from 128 to " + std::to_string(shared_cache::kMaxSlotSize),
                       false;
            c.shared_slot_size = uint32_t(n);
            return true;
        };

        auto& p = cfg->passwords;
        setters["passwords.hashers"] = [&p](const std::string& v, std::string& why) {
            auto l = split_list(v);
            if (l.empty()) return why = "needs at least one hasher", false;
            p.hashers = l;
            return true;
        };
        num("passwords.pbkdf2_iterations", p.pbkdf2_iterations, 1, UINT32_MAX);
        num("passwords.argon2_time_cost", p.argon2_time_cost, 1, UINT32_MAX);
        num("passwords.argon2_memory_cost", p.argon2_memory_cost, 8, UINT32_MAX);
        num("passwords.argon2_parallelism", p.argon2_parallelism, 1, 255);
        num("passwords.bcrypt_rounds", p.bcrypt_rounds, 4, 31);
        num("passwords.scrypt_work_factor", p.scrypt_work_factor, 2, UINT32_MAX);
        num("passwords.scrypt_block_size", p.scrypt_block_size, 1, UINT32_MAX);
        num("passwords.scrypt_parallelism", p.scrypt_parallelism, 1, UINT32_MAX);
        num("passwords.max_hash_memory", p.max_hash_memory, 1, 1u << 20);
        num("passwords.max_pbkdf2_iterations", p.max_pbkdf2_iterations, 1, INT32_MAX);
        num("passwords.max_argon2_work", p.max_argon2_work, 8, uint64_t(1) << 40);
        num("passwords.max_bcrypt_rounds", p.max_bcrypt_rounds, 4, 31);
        num("passwords.max_scrypt_work", p.max_scrypt_work, 2, uint64_t(1) << 40);
        num("passwords.site_params_interval", p.site_params_interval, 0, 86400);
        setters["passwords.validators"] = [&p](const std::string& v, std::string& why) {
            p.validators.clear();
            for (auto& name : split_list(v)) {
                // Django's dotted path or the class name alone.
                const std::string prefix = "django.contrib.auth.password_validation.";
                std::string cls = name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
                if (cls != "UserAttributeSimilarityValidator" && cls != "MinimumLengthValidator" &&
                    cls != "CommonPasswordValidator" && cls != "NumericPasswordValidator")
                    return why = "unknown validator '" + name + "'", false;
                p.validators.push_back(cls);
            }
            return true;
        };
        num("passwords.min_length", p.min_length, 0, 4096);
        setters["passwords.max_similarity"] = [&p](const std::string& v, std::string& why) {
            // A decimal from 0.1 to 1 (Django 4.0+ refuses less than 0.1).
            char* end = nullptr;
            errno = 0;
            const double x = v.empty() ? 0 : std::strtod(v.c_str(), &end);
            if (v.empty() || errno || *end || v.find_first_not_of("0123456789.") != std::string::npos ||
                x < 0.1 || x > 1)
                return why = "expected a decimal number from 0.1 to 1", false;
            p.max_similarity = x;
            return true;
        };
        abs_path("passwords.common_passwords", p.common_passwords);
        flag("passwords.allow_change", p.allow_change);
        flag("passwords.rehash_on_login", p.rehash_on_login);
        flag("passwords.update_last_login", p.update_last_login);

        auto& n = cfg->nss;
        num("nss.uid_base", n.uid_base, 1, UINT32_MAX - 1);
        num("nss.gid_base", n.gid_base, 1, UINT32_MAX - 1);
        num("nss.uid_max", n.uid_max, 1, UINT32_MAX - 1);
        num("nss.gid_max", n.gid_max, 1, UINT32_MAX - 1);
        setters["nss.primary_group"] = [&n](const std::string& v, std::string& why) {
            if (v.empty()) return why = "needs a gid or a group name", false;
            n.primary_group = v;
            return true;
        };
        abs_path("nss.home", n.home);
        abs_path("nss.shell", n.shell);
        str("nss.group_prefix", n.group_prefix);
        flag("nss.gecos_from_name", n.gecos_from_name);
        abs_path("nss.passwd_file", n.passwd_file);
        abs_path("nss.group_file", n.group_file);
        list("nss.reserved_users", n.reserved_users);
        list("nss.reserved_groups", n.reserved_groups);

        auto& sh = cfg->ssh;
        flag("ssh.authorized_keys", sh.authorized_keys);
        list("ssh.clients", sh.clients);
        setters["ssh.allowed_options"] = [&sh](const std::string& v, std::string& why) {
            auto l = split_list(v);
            for (const auto& e : l)
                if (!option_entry(e))
                    return why = "'" + e + "' is not an option name (e.g. no-pty, or from= for one with a value)", false;
            sh.allowed_options = std::move(l);
            return true;
        };

        auto& t = cfg->throttle;
        num("throttle.deny", t.deny, 0, 1000000);
        num("throttle.client_deny", t.client_deny, 0, 1000000);
        num("throttle.fail_interval", t.fail_interval, 1, 31 * 86400);
        num("throttle.unlock_time", t.unlock_time, 0, 366 * 86400);
        num("throttle.max_entries", t.max_entries, 1, 10000000);

        auto& o = cfg->offline;
        flag("offline.cache_credentials", o.cache_credentials);
        num("offline.max_days", o.max_days, 1, 366);
        abs_path("offline.file", o.file);
        flag("otp.enabled", cfg->otp.enabled);
        flag("otp.sync_drift", cfg->otp.sync_drift);
    }

    // [access]: every key is a PAM service name (or "default").
    bool set_access(const std::string& name, const std::string& value) {
        std::string service = lower(trim(name));
        if (service.empty() || service.size() > 255 || service.find_first_of(" \t/") != std::string::npos) {
            if (error.empty()) error = "key 'access." + name + "': not a PAM service name";
            return false;
        }
        auto rule = split_list(strip_hash_comment(trim(value)));
        for (const auto& g : rule)
            if (g == "*" && rule.size() > 1) {
                if (error.empty()) error = "key 'access." + service + "': '*' stands alone";
                return false;
            }
        auto& a = cfg->access;
        if (service == "default") a.default_rule = std::move(rule);
        else a.services[service] = std::move(rule);
        return true;
    }

    bool set(const char* section, const char* name, const char* value) {
        if (std::string(section) == "access") return set_access(name, value);
        std::string key = std::string(section) + "." + name;
        auto it = setters.find(key);
        if (it == setters.end()) {
            if (error.empty()) error = "unknown key '" + key + "'";
            return false;
        }
        std::string v = trim(value);
        if (key != "database.password") v = strip_hash_comment(v);
        std::string why;
        if (!it->second(v, why)) {
            // The password's value never appears in a message.
            if (error.empty()) error = "key '" + key + "': " + why;
            return false;
        }
        return true;
    }
};

int ini_callback(void* user, const char* section, const char* name, const char* value) {
    return static_cast<Parser*>(user)->set(section, name, value) ? 1 : 0;
}

// Final checks that concern more than one key.
bool validate(Config& c, std::string& error) {
    auto& d = c.database;
    if (d.name.empty()) return error = "key 'database.name' must be set", false;
    if (!d.password.empty() && !d.password_file.empty())
        return error = "keys 'database.password' and 'database.password_file' are exclusive", false;
    if (c.nss.uid_max < c.nss.uid_base)
        return error = "key 'nss.uid_max' is below 'nss.uid_base'", false;
    if (c.nss.gid_max < c.nss.gid_base)
        return error = "key 'nss.gid_max' is below 'nss.gid_base'", false;
    if (c.otp.enabled && d.engine == "mysql")
        return error = "key 'otp.enabled': one-time codes need sqlite3 or postgresql (UPDATE ... RETURNING)", false;
    if (c.daemon.socket.empty() || c.daemon.socket[0] != '/')
        return error = "key 'daemon.socket' must be an absolute path", false;
    if (c.daemon.socket.size() >= 108)
        return error = "key 'daemon.socket' is too long for a Unix socket path", false;
    return true;
}

// The daemon's user (root when none is configured).
struct Owner {
    uid_t uid = 0;
    gid_t gid = 0;
};

// Owned by root or the daemon's user, not writable by group or others. A
// file holding a secret is also unreadable by others, and readable by its
// group only when that group is root's or the daemon user's primary group.
bool safe_file(int fd, const Owner& daemon, bool secret, const std::string& what, std::string& error) {
    struct stat st;
    if (fstat(fd, &st) != 0) return error = what + ": " + strerror(errno), false;
    if (!S_ISREG(st.st_mode)) return error = what + ": not a regular file", false;
    if (st.st_uid != 0 && st.st_uid != daemon.uid)
        return error = what + ": must be owned by root or the daemon's user (owner uid " +
                       std::to_string(st.st_uid) + ")", false;
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return error = what + ": must not be writable by group or others", false;
    if (secret && (st.st_mode & S_IROTH))
        return error = what + ": holds a password: must not be readable by others", false;
    if (secret && (st.st_mode & S_IRGRP) && st.st_gid != 0 && st.st_gid != daemon.gid)
        return error = what + ": holds a password: readable by group only for root's group or the daemon's (group gid " +
                       std::to_string(st.st_gid) + ")", false;
    return true;
}

// The daemon user's uid and gid from /etc/passwd (the files database only:
// the daemon must never ask its own NSS module).
Owner files_owner(const std::string& name) {
    Owner o;
    if (name.empty()) return o;
    FILE* f = fopen("/etc/passwd", "re");
    if (!f) return o;
    while (struct passwd* pw = fgetpwent(f)) {
        if (name == pw->pw_name) {
            o.uid = pw->pw_uid;
            o.gid = pw->pw_gid;
            break;
        }
    }
    fclose(f);
    return o;
}

bool read_secret_file(const std::string& path, const Owner& daemon, bool check, std::string& out,
                      std::string& error) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    std::string what = "password_file " + path;
    if (fd < 0) return error = what + ": " + strerror(errno), false;
    if (check && !safe_file(fd, daemon, /*secret=*/true, what, error)) {
        close(fd);
        return false;
    }
    std::string data;
    char buf[512];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        data.append(buf, size_t(n));
        if (data.size() > 4096) break;
    }
    explicit_bzero(buf, sizeof buf);
    close(fd);
    if (n < 0) return error = what + ": read error", false;
    size_t nl = data.find('\n');
    out.assign(data, 0, nl == std::string::npos ? data.size() : nl);
    if (!out.empty() && out.back() == '\r') out.pop_back();
    explicit_bzero(data.data(), data.size());
    return true;
}

}  // namespace

const std::vector<std::string>& AccessConfig::rule_for(std::string_view service, bool* listed) const {
    auto it = services.find(lower(std::string(service)));
    if (listed) *listed = it != services.end();
    return it != services.end() ? it->second : default_rule;
}

bool AccessConfig::anyone_can_log_in() const {
    if (!default_rule.empty()) return true;
    for (const auto& [service, rule] : services)
        if (!rule.empty()) return true;
    return false;
}

bool valid_identifier(const std::string& s) {
    if (s.empty() || s.size() > 63) return false;
    auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
    if (!alpha(s[0])) return false;
    for (char c : s)
        if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
    return true;
}

std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
        size_t comma = s.find(',', start);
        if (comma == std::string::npos) comma = s.size();
        std::string item = trim(s.substr(start, comma - start));
        if (!item.empty()) out.push_back(item);
        start = comma + 1;
    }
    return out;
}

bool parse_config_text(const std::string& text, Config& out, std::string& error,
                       const std::string& name) {
    // libinih (Debian's build) reads at most INI_MAX_LINE - 1 bytes of a line
    // and parses the rest as a line of its own: refuse long lines instead.
    size_t line_no = 1, start = 0;
    while (start <= text.size()) {
        size_t nl = text.find('\n', start);
        size_t len = (nl == std::string::npos ? text.size() : nl) - start;
        if (len >= INI_MAX_LINE - 1) {
            error = name + ":" + std::to_string(line_no) + ": line longer than " +
                    std::to_string(INI_MAX_LINE - 2) + " characters";
            return false;
        }
        if (nl == std::string::npos) break;
        start = nl + 1;
        ++line_no;
    }
    Config c;
    Parser p(&c);
    int line = ini_parse_string(text.c_str(), ini_callback, &p);
    if (line != 0) {
        if (line < 0) error = name + ": cannot parse";
        else if (!p.error.empty()) error = name + ":" + std::to_string(line) + ": " + p.error;
        else error = name + ":" + std::to_string(line) + ": syntax error (expected [section] or key = value)";
        return false;
    }
    if (!validate(c, error)) {
        error = name + ": " + error;
        return false;
    }
    c.path = name;
    out = std::move(c);
    return true;
}

bool load_config(const std::string& path, Config& out, std::string& error, const LoadOptions& opt) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return error = path + ": " + strerror(errno), false;
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        text.append(buf, size_t(n));
        if (text.size() > 1024 * 1024) {
            close(fd);
            return error = path + ": file too large", false;
        }
    }
    explicit_bzero(buf, sizeof buf);
    if (n < 0) {
        close(fd);
        return error = path + ": " + strerror(errno), false;
    }
    Config c;
    bool parsed = parse_config_text(text, c, error, path);
    explicit_bzero(text.data(), text.size());
    if (!parsed) {
        close(fd);
        return false;
    }
    const Owner daemon = files_owner(c.daemon.user);
    // With the database password in it, the file is a secret too.
    if (opt.check_permissions && !safe_file(fd, daemon, !c.database.password.empty(), path, error)) {
        close(fd);
        return false;
    }
    close(fd);
    if (opt.read_password_file && !c.database.password_file.empty()) {
        if (!read_secret_file(c.database.password_file, daemon, opt.check_permissions,
                              c.database.password, error))
            return false;
    }
    out = std::move(c);
    return true;
}

}  // namespace dj
