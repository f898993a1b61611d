// django-authd: answers PAM and NSS requests about a Django site's users.
//
//   django-authd [--config FILE] [--foreground] [--debug] [--check-config]
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <optional>
#include <cstring>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "daemon/config.h"
#include "daemon/cache.h"
#include "daemon/check_config.h"
#include "daemon/db_postgres.h"
#include "daemon/guarded_db.h"
#include "daemon/mysql_plugin.h"
#include "daemon/mysql_text.h"
#include "daemon/handlers.h"
#include "daemon/invalidation.h"
#include "daemon/listen.h"
#include "daemon/log.h"
#include "daemon/password_rules.h"
#include "daemon/privs.h"
#include "daemon/server.h"
#include "daemon/shared_cache_writer.h"
#include "daemon/sql.h"
#include "daemon/startup.h"

namespace {

void usage(FILE* f) {
    fprintf(f,
            "usage: django-authd [--config FILE] [--foreground] [--debug] [--check-config]\n"
            "  --config FILE    configuration file (default %s)\n"
            "  --foreground     stay in the foreground and log to stderr (to syslog if it is the journal)\n"
            "  --debug          log debug messages\n"
            "  --check-config   read and check the configuration, then exit\n",
            dj::kDefaultConfigPath);
}

// Re-reads the host's passwd and group files every second: the answers the
// caches give without a worker are dropped within a second of a useradd.
// Reads the site's stored hashes again every `site_interval` seconds (0:
// never), after a SIGHUP, and every 30 seconds while the database cannot be
// read.
std::jthread watch_host_names(dj::Handler& handler, int site_interval, bool site_read) {
    return std::jthread([&handler, site_interval, site_read](std::stop_token stop) mutable {
        std::mutex m;
        std::condition_variable_any cv;
        std::unique_lock<std::mutex> lock(m);
        using Clock = std::chrono::steady_clock;
        auto next_scan = Clock::now() + std::chrono::seconds(site_read ? site_interval : 30);
        while (!stop.stop_requested()) {
            cv.wait_for(lock, stop, std::chrono::seconds(1), [] { return false; });
            if (stop.stop_requested()) break;
            try {
                handler.refresh_host_names();
            } catch (const std::exception& e) {
                dj::log::say(LOG_ERR, "re-reading the host's passwd and group files: %s", e.what());
            }
            if (handler.take_site_params_request() ||
                ((site_interval > 0 || !site_read) && Clock::now() >= next_scan)) {
                site_read = handler.refresh_site_params();
                next_scan = Clock::now() + std::chrono::seconds(site_read ? site_interval : 30);
            }
        }
    });
}

// --check-config: the file was read; now what it would mean on this host.
int check_config(const dj::Config& cfg, const std::string& path) {
    int rc = 0;
    dj::HostNames host(cfg.nss);
    std::vector<std::string> warnings = dj::boundary_warnings(cfg);
    std::unique_ptr<dj::db::Database> db;
    auto errors = dj::boundary_errors(cfg, host);
    for (auto& e : dj::runtime_errors(cfg, db, warnings)) errors.push_back(std::move(e));
    for (const auto& e : errors) {
        printf("%s: error: %s\n", path.c_str(), e.c_str());
        rc = 1;
    }
    for (const auto& w : warnings) printf("%s: warning: %s\n", path.c_str(), w.c_str());
    if (db) {
        try {
            dj::print_hidden_names(stdout, cfg, *db, host);
        } catch (const std::exception& e) {
            printf("%s: error: reading the users and groups: %s\n", path.c_str(), e.what());
            rc = 1;
        }
    }
    if (rc == 0) printf("%s: ok\n", path.c_str());
    return rc;
}

// Startup errors go to the log and to stderr, once where they are the same
// place (stderr is the log, or the journal the log reaches).
int fail(const std::string& msg) {
    dj::log::say(LOG_ERR, "%s", msg.c_str());
    if (!dj::log::reaches_stderr()) fprintf(stderr, "django-authd: %s\n", msg.c_str());
    return 1;
}

int run(int argc, char** argv) {
    std::string config_path = dj::kDefaultConfigPath;
    bool foreground = false, debug = false, check_only = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--config" && i + 1 < argc) config_path = argv[++i];
        else if (a.rfind("--config=", 0) == 0) config_path = a.substr(9);
        else if (a == "--foreground" || a == "-f") foreground = true;
        else if (a == "--debug" || a == "-d") debug = true;
        else if (a == "--check-config") check_only = true;
        else if (a == "--help" || a == "-h") return usage(stdout), 0;
        else if (a == "--version") return printf("%s\n", dj::kDaemonVersion), 0;
        else return usage(stderr), 2;
    }
    dj::log::init(foreground, debug);

    dj::Config cfg;
    std::string error;
    if (!dj::load_config(config_path, cfg, error)) return fail("configuration: " + error);
    if (cfg.daemon.debug && !debug) dj::log::init(foreground, debug = true);
    std::optional<dj::Hashers> hashers;
    try {
        hashers.emplace(dj::make_hashers(cfg.passwords));
    } catch (const std::exception& e) {
        return fail(config_path + ": key 'passwords.hashers': " + e.what());
    }
    try {
        dj::PasswordRules rules(cfg.passwords);  // the common-passwords list can be read
    } catch (const std::exception& e) {
        return fail(config_path + ": " + e.what());
    }
    uint32_t primary_gid = 0;
    if (!dj::resolve_primary_gid(cfg.nss.primary_group, primary_gid, error)) return fail(config_path + ": " + error);
    if (cfg.database.engine == "postgresql") {
        try {
            (void)dj::db::PostgresEngine::conninfo(cfg.database);
        } catch (const std::exception& e) {
            return fail(config_path + ": " + e.what());
        }
    }
    if (cfg.database.engine == "mysql") {
        try {
            (void)dj::db::parse_mysql_options(cfg.database.options);
        } catch (const std::exception& e) {
            return fail(config_path + ": " + e.what());
        }
        if (dj::db::find_mysql_plugin(error).empty()) return fail(config_path + ": " + error);
    }
    if (check_only) return check_config(cfg, config_path);
    {
        dj::HostNames host(cfg.nss);
        auto errors = dj::boundary_errors(cfg, host);
        for (const auto& e : errors) fail(config_path + ": " + e);
        if (!errors.empty()) return 1;
    }
    for (const auto& w : dj::boundary_warnings(cfg)) dj::log::say(LOG_WARNING, "%s", w.c_str());
    std::vector<std::string> unknown;
    dj::AuthClients clients = dj::AuthClients::resolve(cfg.daemon.auth_clients, unknown);
    for (const auto& u : unknown)
        dj::log::say(LOG_WARNING, "auth_clients: '%s' is not in /etc/passwd or /etc/group", u.c_str());
    unknown.clear();
    dj::AuthClients ssh_clients = dj::AuthClients::resolve(cfg.ssh.clients, unknown);
    if (cfg.ssh.authorized_keys)
        for (const auto& u : unknown)
            dj::log::say(LOG_WARNING, "[ssh] clients: '%s' is not in /etc/passwd or /etc/group", u.c_str());

    bool own_socket = false;
    int listen_fd = dj::systemd_listen_fd();
    if (listen_fd < 0) {
        listen_fd = dj::open_listen_socket(cfg.daemon.socket, error);
        if (listen_fd < 0) return fail(error);
        own_socket = true;
    }
    // The shared lookup cache beside the socket, created before privileges
    // are dropped (like the socket) so that readers trust its owner.
    std::unique_ptr<dj::SharedCacheWriter> shared;
    if (cfg.cache.positive_ttl > 0 && cfg.cache.shared_slots > 0 && !cfg.daemon.socket.empty()) {
        std::string cache_error;
        shared = dj::SharedCacheWriter::create(dj::shared_cache::path_for_socket(cfg.daemon.socket),
                                               cfg.cache.shared_slot_size, cfg.cache.shared_slots, cache_error);
        if (!shared) dj::log::say(LOG_WARNING, "shared cache off: %s", cache_error.c_str());
    }
    // The offline credentials' directory, the daemon user's (the Debian
    // package and make install have tmpfiles.d make it at boot).
    if (cfg.offline.cache_credentials && !dj::make_private_dir(cfg.offline.file, cfg.daemon.user, error))
        dj::log::say(LOG_ERR, "offline credentials: %s", error.c_str());
    if (!cfg.daemon.user.empty() && !dj::drop_privileges(cfg.daemon.user, error)) return fail(error);
    if (!foreground && daemon(0, 0) != 0) return fail(std::string("daemon: ") + strerror(errno));

    const int hw = int(std::max(1u, std::thread::hardware_concurrency()));
    dj::ServerOptions so;
    so.auth_threads = cfg.daemon.auth_threads ? cfg.daemon.auth_threads : hw;
    so.lookup_threads = cfg.daemon.lookup_threads ? cfg.daemon.lookup_threads : std::max(4, 2 * hw);
    // One event loop per CPU: while password hashes hold every CPU, a lookup
    // still finds a loop that gets one at once. The price is some peak socket
    // throughput (more sleeping and waking), which matters little once the
    // shared cache answers most lookups. make bench measures both (section 5
    // of bench/results.md).
    so.event_threads = cfg.daemon.event_threads ? cfg.daemon.event_threads : std::min(hw, 8);
    so.max_connections = cfg.daemon.max_connections;
    so.idle_timeout_s = cfg.daemon.idle_timeout;
    so.request_timeout_s = cfg.daemon.request_timeout;
    so.max_per_uid = cfg.daemon.max_connections_per_uid ? cfg.daemon.max_connections_per_uid
                                                         : std::max(1, so.max_connections / 8);
    so.privileged = clients;  // the Handler gets its own copy below
    so.max_pending_auth = size_t(cfg.daemon.max_pending_auth);
    // Room for max_connections client sockets besides the database
    // connections and our own files (the usual soft limit is 1024).
    if (rlimit rl{}; getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        const rlim_t want = rlim_t(so.max_connections) + rlim_t(so.auth_threads + so.lookup_threads) + 64;
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
            rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? want : std::min(want, rl.rlim_max);
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
                dj::log::say(LOG_WARNING, "open files limited to %llu: fewer than max_connections = %d fit",
                             static_cast<unsigned long long>(rl.rlim_cur), so.max_connections);
        }
    }

    // [otp] stores each accepted code's step (django-otp's last_t).
    const bool writable = cfg.passwords.allow_change || cfg.passwords.rehash_on_login ||
                          cfg.passwords.update_last_login || cfg.otp.enabled;
    std::unique_ptr<dj::db::Database> db;
    try {
        // Behind the circuit breaker: a database that does not answer costs
        // the requests one wait, not one each (guarded_db.h).
        db = std::make_unique<dj::db::GuardedDatabase>(
            dj::db::open_database(cfg.database, writable, so.auth_threads + so.lookup_threads));
    } catch (const std::exception& e) {
        return fail(config_path + ": " + e.what());
    }
    try {
        db->ping();
        dj::log::say(LOG_INFO, "database %s reachable", db->describe().c_str());
    } catch (const std::exception& e) {
        // Keep running: requests answer Unavailable until the database is back.
        dj::log::say(LOG_WARNING, "database not reachable yet: %s", e.what());
    }

    dj::Cache cache(std::chrono::seconds(cfg.cache.positive_ttl), std::chrono::seconds(cfg.cache.negative_ttl),
                    cfg.cache.max_entries, cfg.cache.max_bytes);
    cache.share(shared.get());
    dj::Invalidation invalidation(cache);
    dj::Handler handler(cfg, *db, *hashers, cache, std::move(clients), primary_gid);
    handler.set_ssh_clients(std::move(ssh_clients));
    dj::log::say(LOG_INFO, "%s listening on %s (%s), preferred hasher %s", dj::kDaemonVersion,
                 own_socket ? cfg.daemon.socket.c_str() : "socket from systemd", db->describe().c_str(),
                 hashers->preferred().c_str());
    // The site's own hasher parameters, before the first request.
    const bool site_read = handler.refresh_site_params();
    int rc;
    {
        std::jthread watch = watch_host_names(handler, cfg.passwords.site_params_interval, site_read);
        std::jthread changes = dj::start_invalidation(cfg, invalidation);
        dj::Server server(listen_fd, handler, so);
        rc = server.run(cache, shared.get());
    }
    cache.share(nullptr);
    if (shared) shared->unlink_file();
    close(listen_fd);
    if (own_socket) unlink(cfg.daemon.socket.c_str());
    return rc;
}

}  // namespace

int main(int argc, char** argv) {
    // Before a secret is read: no core file, no ptrace by other users.
    if (std::string error; !dj::forbid_dumps(error)) return fail(error);
    // Before anything can look a user up.
    dj::disable_own_nss_module();
    signal(SIGPIPE, SIG_IGN);
    // Signals are taken by the event loop's signalfd: block them in every thread.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        return fail(std::string("fatal: ") + e.what());
    }
}
