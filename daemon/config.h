// The daemon's configuration file, /etc/django-auth/django-auth.conf (INI,
// read with libinih). Every key is documented in config/django-auth.conf.
// django-authd reads it in full; django-authctl reads it to find the socket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/shared_cache.h"

namespace dj {

inline constexpr const char* kDefaultConfigPath = "/etc/django-auth/django-auth.conf";

// Table and column names of the user model; defaults are Django's stock
// contrib.auth schema. An empty optional column means "the model has none".
struct Schema {
    std::string user_table = "auth_user";
    std::string user_id = "id";
    std::string user_username = "username";
    std::string user_password = "password";
    std::string user_is_active = "is_active";        // optional: empty = every user active
    std::string user_is_staff = "is_staff";          // optional
    std::string user_is_superuser = "is_superuser";  // optional
    std::string user_first_name = "first_name";      // optional
    std::string user_last_name = "last_name";        // optional
    std::string user_last_login = "last_login";      // optional

    std::string group_table = "auth_group";
    std::string group_id = "id";
    std::string group_name = "name";

    std::string user_groups_table = "auth_user_groups";
    std::string user_groups_user = "user_id";
    std::string user_groups_group = "group_id";

    std::string user_perms_table = "auth_user_user_permissions";
    std::string user_perms_user = "user_id";
    std::string user_perms_perm = "permission_id";

    std::string group_perms_table = "auth_group_permissions";
    std::string group_perms_group = "group_id";
    std::string group_perms_perm = "permission_id";

    std::string permission_table = "auth_permission";
    std::string content_type_table = "django_content_type";

    // django-otp's TOTP devices (django_otp.plugins.otp_totp), read only
    // when [otp] enabled = yes.
    std::string totp_table = "otp_totp_totpdevice";
    std::string totp_id = "id";
    std::string totp_user = "user_id";
    std::string totp_confirmed = "confirmed";
    std::string totp_key = "key";
    std::string totp_step = "step";
    std::string totp_t0 = "t0";
    std::string totp_digits = "digits";
    std::string totp_tolerance = "tolerance";
    std::string totp_drift = "drift";
    std::string totp_last_t = "last_t";
    // SSH public keys ([ssh] authorized_keys): django-sshkey's UserKey by
    // default (its Meta.db_table is "sshkey_userkey").
    std::string key_table = "sshkey_userkey";
    std::string key_user = "user_id";
    std::string key_key = "key";
    std::string key_active;                          // optional: a boolean column
    std::string key_expires;                         // optional: a timestamp column
};

struct DatabaseConfig {
    std::string engine = "sqlite3";      // sqlite3 | postgresql | mysql
    std::string name = "/srv/site/db.sqlite3";
    std::string user;
    std::string password;                // secret: never logged
    std::string password_file;
    std::string host;
    std::string port;
    std::string options;                 // extra libpq conninfo, or MySQL TLS settings: "k=v k=v"
    std::string option_files;            // mysql: an option file (Django's read_default_file)
    std::string replica;                 // postgresql: conninfo over the above for reads
    std::string listen;                  // postgresql: conninfo over the above for LISTEN
    int connect_timeout = 5;             // seconds
    int query_timeout = 5;               // seconds (SQLite: busy timeout)
    Schema schema;
};

struct DaemonConfig {
    std::string socket = "/run/django-auth/socket";
    std::string user;                    // drop privileges to this user
    std::vector<std::string> auth_clients = {"www-data"};  // names or @group
    int event_threads = 0;               // 0: sized to the machine
    int lookup_threads = 0;              // 0: sized to the machine
    int auth_threads = 0;                // 0: sized to the machine
    int max_connections = 1024;
    int idle_timeout = 60;               // seconds a client connection may stay idle
    int request_timeout = 5;             // seconds for a request (or an answer) to cross whole
    int max_connections_per_uid = 0;     // 0: max_connections / 8 (root and auth_clients: no cap)
    int max_pending_auth = 256;          // queued authentications before Throttled
    bool debug = false;                  // log debug messages (as --debug)
};

struct CacheConfig {
    int positive_ttl = 60;               // seconds
    int negative_ttl = 10;               // seconds
    size_t max_entries = 100000;
    size_t max_bytes = 64u * 1024 * 1024;
    // Drop cached answers when the database changes (daemon/invalidation.h).
    bool invalidate = true;
    // The shared cache file (common/shared_cache.h): slots (a power of two;
    // 0: no file) and bytes per slot (a multiple of 64).
    uint32_t shared_slots = shared_cache::kDefaultSlotCount;
    uint32_t shared_slot_size = shared_cache::kDefaultSlotSize;
};

struct PasswordsConfig {
    std::vector<std::string> hashers = {"pbkdf2_sha256", "pbkdf2_sha1", "argon2",
                                        "bcrypt_sha256", "scrypt"};
    // Work factors for new hashes and for must_update; 0 = the library default.
    uint32_t pbkdf2_iterations = 0;
    uint32_t argon2_time_cost = 0;
    uint32_t argon2_memory_cost = 0;
    uint32_t argon2_parallelism = 0;
    uint32_t bcrypt_rounds = 0;
    uint32_t scrypt_work_factor = 0;
    uint32_t scrypt_block_size = 0;
    uint32_t scrypt_parallelism = 0;
    // Bounds on what one check may cost (passwords/hashers.h, HashLimits).
    uint64_t max_hash_memory = 1024;              // MiB
    uint64_t max_pbkdf2_iterations = 100000000;
    uint64_t max_argon2_work = 4194304;           // t * m, KiB
    uint32_t max_bcrypt_rounds = 16;
    uint64_t max_scrypt_work = 16777216;          // N * r * p
    // How often the stored hashes are read again for the site's parameters.
    int site_params_interval = 600;      // seconds; 0: only at startup and on flush
    // Django's AUTH_PASSWORD_VALIDATORS for new passwords (ChangePassword):
    // class names, in order; empty: none (Django's global default).
    std::vector<std::string> validators;
    uint32_t min_length = 8;                       // MinimumLengthValidator
    double max_similarity = 0.7;                   // UserAttributeSimilarityValidator
    std::string common_passwords =                 // CommonPasswordValidator's list
        "/usr/lib/python3/dist-packages/django/contrib/auth/common-passwords.txt.gz";
    bool allow_change = false;           // ChangePassword op
    bool rehash_on_login = false;        // store the preferred hash when must_update
    bool update_last_login = false;
};

struct NssConfig {
    uint32_t uid_base = 200000;
    uint32_t gid_base = 200000;
    uint32_t uid_max = 2147483647;       // ids above are never returned
    uint32_t gid_max = 2147483647;
    std::string primary_group = "100";   // a gid, or a group name from /etc/group
    std::string home = "/home/%u";       // %u user name, %U uid, %i Django id, %% a '%'
    std::string shell = "/bin/bash";
    std::string group_prefix;            // prepended to Django group names
    bool gecos_from_name = true;         // "first last"
    // The host's own accounts: a Django name or id that one of them uses is
    // never served (daemon/host_names.h). Re-read when they change.
    std::string passwd_file = "/etc/passwd";
    std::string group_file = "/etc/group";
    // Added to the built-in reserved names (common/names.h),
    // which cannot be shortened.
    std::vector<std::string> reserved_users;
    std::vector<std::string> reserved_groups;
};


// Who may log in through each PAM service ([access]). A rule is a list of
// Django group names (or their NSS names, prefix included); "*" lets every
// active user in. Services not listed take `default`; an empty rule lets
// nobody in. Service names are compared in lower case, as libpam keeps them.
struct AccessConfig {
    std::map<std::string, std::vector<std::string>> services;
    std::vector<std::string> default_rule;
    // The rule for `service`; `listed` says whether it had its own line.
    const std::vector<std::string>& rule_for(std::string_view service, bool* listed = nullptr) const;
    // Whether any rule lets anybody in.
    bool anyone_can_log_in() const;
};

// SSH public keys for sshd's AuthorizedKeysCommand (daemon/ssh_keys.h).
struct SshConfig {
    bool authorized_keys = false;        // the AuthorizedKeys op; off until configured
    // Who may ask besides root: sshd's AuthorizedKeysCommandUser (names or @group).
    std::vector<std::string> clients = {"nobody"};
    // authorized_keys options a stored key may carry ("no-pty", "from=");
    // empty: a key line with any option is dropped.
    std::vector<std::string> allowed_options;
};

// Failed-login throttling (daemon/throttle.h), pam_faillock style.
struct ThrottleConfig {
    int deny = 10;                       // failures that lock a user; 0 disables
    int client_deny = 50;                // failures that lock a client; 0 disables
    int fail_interval = 900;             // seconds in which failures count
    int unlock_time = 600;               // seconds locked; 0 = until django-authctl reset
    size_t max_entries = 10000;          // records kept; the oldest go first
};

// Logins while the database is unreachable (daemon/offline_store.h): a
// verifier of each password that logged in online, kept max_days.
struct OfflineConfig {
    bool cache_credentials = false;
    int max_days = 3;
    std::string file = "/var/lib/django-auth/offline-credentials";
};

// One-time codes from django-otp's TOTP devices (daemon/otp.h).
struct OtpConfig {
    bool enabled = false;                // read devices, answer AuthenticateWithCode
    bool sync_drift = true;              // django-otp's OTP_TOTP_SYNC: store the drift that matched
};

struct Config {
    DatabaseConfig database;
    DaemonConfig daemon;
    CacheConfig cache;
    PasswordsConfig passwords;
    NssConfig nss;
    ThrottleConfig throttle;
    AccessConfig access;
    SshConfig ssh;
    OfflineConfig offline;
    OtpConfig otp;
    std::string path;                    // the file it was read from
};

struct LoadOptions {
    // Refuse a file not owned by root (or the [daemon] user) or writable by
    // group or others; same for password_file, which (like a config file
    // with database.password) must also be unreadable by others and readable
    // by its group only when that is root's or the [daemon] user's primary
    // group. The daemon sets it.
    bool check_permissions = true;
    // Read password_file into database.password.
    bool read_password_file = true;
};

// Parses `path` into `out`. On failure returns false and sets `error` to a
// message naming the file, line and key; it never contains the password.
bool load_config(const std::string& path, Config& out, std::string& error,
                 const LoadOptions& opt = {});

// Parses INI text (no file checks): for tests and for load_config.
bool parse_config_text(const std::string& text, Config& out, std::string& error,
                       const std::string& name = "<text>");

// A SQL identifier we are willing to quote: [A-Za-z_][A-Za-z0-9_]*, <= 63.
bool valid_identifier(const std::string& s);

// Splits "a, b,c" into trimmed non-empty items.
std::vector<std::string> split_list(const std::string& s);

}  // namespace dj
