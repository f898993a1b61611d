// django-authctl commands that talk to django-authd over its socket:
// status, user, group, groups, auth, flush.
//
// Each takes [--config FILE | --socket PATH] before its arguments. The socket
// is, in order: --socket; [daemon] socket of --config; of the default config
// file when it is readable; else DJANGO_AUTH_SOCKET or the built-in default.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <cstring>
#include <string>
#include <vector>

#include "common/client.h"
#include "common/names.h"
#include "common/protocol.h"
#include "daemon/config.h"
#include "passwords/hashers.h"
#include "tools/commands.h"

namespace dj::ctl {

using proto::Op;
using proto::Status;

int parse_target(const char* cmd, int argc, char** argv, const char* usage, Target& t) {
    std::string config, socket_path;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            std::printf("usage: django-authctl %s [--config FILE | --socket PATH] %s\n", cmd, usage);
            return kExitOk;
        }
        if ((a == "--config" || a == "--socket") && i + 1 < argc) {
            (a == "--config" ? config : socket_path) = argv[++i];
        } else if (a.rfind("--config=", 0) == 0) {
            config = a.substr(9);
        } else if (a.rfind("--socket=", 0) == 0) {
            socket_path = a.substr(9);
        } else if (a.size() > 1 && a[0] == '-' && a != "-") {
            return usage_error(cmd, "unknown option " + a);
        } else {
            t.args.push_back(a);
        }
    }
    if (!config.empty() && !socket_path.empty()) return usage_error(cmd, "--config and --socket are exclusive");
    if (!socket_path.empty()) {
        t.opt.socket_path = socket_path;
        return -1;
    }
    // The socket path is all we need: no permission checks, no secrets read.
    LoadOptions lo;
    lo.check_permissions = false;
    lo.read_password_file = false;
    Config cfg;
    std::string error;
    if (!config.empty()) {
        if (!load_config(config, cfg, error, lo)) return fail(cmd, error);
        wipe(cfg.database.password);
        t.opt.socket_path = cfg.daemon.socket;
    } else if (access(kDefaultConfigPath, R_OK) == 0 && load_config(kDefaultConfigPath, cfg, error, lo)) {
        wipe(cfg.database.password);
        t.opt.socket_path = cfg.daemon.socket;
    } else {
        t.opt.socket_path = client::default_socket_path();
    }
    return -1;
}

bool ask(const char* cmd, const Target& t, proto::Writer& w, client::Response& r) {
    r = client::call(t.opt, w.finish());
    if (r.transport != client::Transport::Ok) {
        std::fprintf(stderr, "django-authctl: %s: daemon unavailable at %s: %s\n", cmd, t.opt.socket_path.c_str(),
                     r.error.c_str());
        return false;
    }
    return true;
}

namespace {

bool all_digits(const std::string& s) {
    if (s.empty() || s.size() > 10) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return std::stoull(s) <= 0xffffffffull;
}

void print_passwd(const proto::Passwd& p) {
    std::printf("%s:x:%u:%u:%s:%s:%s\n", p.name.c_str(), p.uid, p.gid, p.gecos.c_str(), p.dir.c_str(), p.shell.c_str());
}

void print_group(const proto::Group& g) {
    std::string members;
    for (const auto& m : g.members) members += (members.empty() ? "" : ",") + m;
    std::printf("%s:x:%u:%s\n", g.name.c_str(), g.gid, members.c_str());
}

// The value of the Stats line "key value", or "" when there is none.
std::string stats_value(const std::string& text, const std::string& key) {
    const std::string start = key + " ";
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string::npos) nl = text.size();
        if (text.compare(pos, start.size(), start) == 0) return text.substr(pos + start.size(), nl - pos - start.size());
        pos = nl + 1;
    }
    return {};
}

// "online" or "offline since <time>": whether the daemon answers from the
// database, or from its cache and offline credentials (handlers_offline.cc).
std::string mode_line(const std::string& text, bool online, const std::string& since) {
    std::string out = online ? "online" : "offline since " + since;
    const std::string records = stats_value(text, "offline_records");
    if (stats_value(text, "offline_credentials") == "yes")
        out += ": " + records + " offline credential record" + (records == "1" ? "" : "s");
    else if (!online)
        out += ": cached lookups only (offline credentials off)";
    return out + "\n";
}

// "database: available", or "database: unavailable since <time> (<n> s): <error>"
// while the daemon's circuit breaker is open (daemon/guarded_db.h); then
// "online" or "offline ...".
std::string database_state(const std::string& text) {
    const std::string available = stats_value(text, "database_available");
    if (available.empty()) return {};  // an older daemon
    if (available == "yes") return "database: available\n" + mode_line(text, true, {});
    const long long since = std::atoll(stats_value(text, "database_unavailable_since").c_str());
    const time_t t = time_t(since);
    struct tm tm {};
    char when[64] = "?";
    if (since > 0 && localtime_r(&t, &tm)) std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %Z", &tm);
    const long long ago = since > 0 ? static_cast<long long>(time(nullptr)) - since : 0;
    std::string out = std::string("database: unavailable since ") + when + " (" + std::to_string(ago) + " s)";
    if (std::string error = stats_value(text, "database_error"); !error.empty()) out += ": " + error;
    return out + "\n" + mode_line(text, false, when);
}

}  // namespace

int cmd_status(int argc, char** argv) {
    const char* cmd = "status";
    Target t;
    if (int rc = parse_target(cmd, argc, argv, "", t); rc >= 0) return rc;
    if (!t.args.empty()) return usage_error(cmd, "takes no arguments");
    client::Response r;
    proto::Writer hello(Op::Hello);
    if (!ask(cmd, t, hello, r)) return kExitFail;
    proto::Reader hr(r.frame);
    std::string version = hr.str();
    uint32_t pv = hr.u32();
    if (r.status != Status::Ok || !hr.ok()) return fail(cmd, proto::status_name(r.status));
    std::printf("socket %s\nprotocol %u\n", t.opt.socket_path.c_str(), pv);
    proto::Writer stats(Op::Stats);
    if (!ask(cmd, t, stats, r)) return kExitFail;
    if (r.status == Status::Denied) {
        // The daemon answers; its counters are for root and auth_clients.
        std::fprintf(stderr, "django-authctl: status: counters not shown: caller not allowed (root and auth_clients only)\n");
        return kExitOk;
    }
    proto::Reader sr(r.frame);
    std::string text = sr.str();
    if (r.status != Status::Ok || !sr.ok()) return fail(cmd, proto::status_name(r.status));
    std::fputs(database_state(text).c_str(), stdout);
    std::fputs(text.c_str(), stdout);
    return kExitOk;
}

// A name from the command line, as an error message may show it.
std::string shown(std::string_view name) { return names::printable(name, 64, names::Escape::Hex); }

// user NAME|UID and group NAME|GID: one entry, asked for by id when the
// argument is a number and by name otherwise, printed as a passwd or group line.
template <class Record>
int show_entry(const char* cmd, int argc, char** argv, const char* usage, const char* needs,
               Op by_id, Op by_name, Record (proto::Reader::*read)(),
               void (*print)(const Record&)) {
    Target t;
    if (int rc = parse_target(cmd, argc, argv, usage, t); rc >= 0) return rc;
    if (t.args.size() != 1) return usage_error(cmd, needs);
    const std::string& key = t.args[0];
    const bool numeric = all_digits(key);
    proto::Writer w(numeric ? by_id : by_name);
    if (numeric) w.u32(uint32_t(std::stoul(key)));
    else w.str(key);
    client::Response r;
    if (!ask(cmd, t, w, r)) return kExitFail;
    if (r.status != Status::Ok) return fail(cmd, shown(key) + ": " + proto::status_name(r.status));
    proto::Reader rd(r.frame);
    Record rec = (rd.*read)();
    if (!rd.ok()) return fail(cmd, "malformed answer");
    print(rec);
    return kExitOk;
}

int cmd_user(int argc, char** argv) {
    return show_entry<proto::Passwd>("user", argc, argv, "NAME|UID", "needs one user name or uid",
                                     Op::PwByUid, Op::PwByName, &proto::Reader::passwd,
                                     print_passwd);
}

int cmd_group(int argc, char** argv) {
    return show_entry<proto::Group>("group", argc, argv, "NAME|GID", "needs one group name or gid",
                                    Op::GrByGid, Op::GrByName, &proto::Reader::group,
                                    print_group);
}

int cmd_groups(int argc, char** argv) {
    const char* cmd = "groups";
    Target t;
    if (int rc = parse_target(cmd, argc, argv, "USER", t); rc >= 0) return rc;
    if (t.args.size() != 1) return usage_error(cmd, "needs one user name");
    proto::Writer w(Op::GroupsOfUser);
    w.str(t.args[0]);
    client::Response r;
    if (!ask(cmd, t, w, r)) return kExitFail;
    if (r.status != Status::Ok) return fail(cmd, shown(t.args[0]) + ": " + proto::status_name(r.status));
    proto::Reader rd(r.frame);
    uint32_t n = rd.u32();
    std::vector<uint32_t> gids;
    for (uint32_t i = 0; i < n && rd.ok(); ++i) gids.push_back(rd.u32());
    if (!rd.ok()) return fail(cmd, "malformed answer");
    for (uint32_t gid : gids) {
        proto::Writer gw(Op::GrByGid);
        gw.u32(gid);
        if (!ask(cmd, t, gw, r)) return kExitFail;
        proto::Reader gr(r.frame);
        proto::Group g = gr.group();
        if (r.status == Status::Ok && gr.ok()) std::printf("%s\n", g.name.c_str());
        else std::printf("%u\n", gid);
    }
    return kExitOk;
}

// Exit: 0 authenticated, 1 wrong password, 2 no such user or inactive,
// 3 unavailable (or refused).
int cmd_auth(int argc, char** argv) {
    const char* cmd = "auth";
    Target t;
    if (int rc = parse_target(cmd, argc, argv, "USER [SERVICE]  (password on standard input)", t); rc >= 0)
        return rc;
    if (t.args.empty() || t.args.size() > 2) return usage_error(cmd, "needs a user name, and optionally a service");
    // The PAM service whose [access] rule applies.
    const std::string service = t.args.size() == 2 ? t.args[1] : "django-authctl";
    std::string password;
    if (!read_all_stdin(password)) return fail(cmd, "cannot read standard input");
    client::Response r;
    {
        proto::Writer w(Op::Authenticate);
        try {
            w.str(t.args[0]);
            w.str(password);
            w.str(service);
            w.str("");
        } catch (const std::length_error&) {
            wipe(password);
            return usage_error(cmd, "password or user name too long");
        }
        wipe(password);
        r = client::call(t.opt, w.finish());
        auto& buf = w.finish();
        explicit_bzero(buf.data(), buf.size());
    }
    if (r.transport != client::Transport::Ok) {
        std::fprintf(stderr, "django-authctl: auth: daemon unavailable at %s: %s\n", t.opt.socket_path.c_str(),
                     r.error.c_str());
        return 3;
    }
    switch (r.status) {
        case Status::Ok: std::printf("authenticated\n"); return 0;
        case Status::WrongPassword: std::fprintf(stderr, "django-authctl: auth: wrong password\n"); return 1;
        case Status::NoUser: std::fprintf(stderr, "django-authctl: auth: no such user or inactive\n"); return 2;
        default:
            std::fprintf(stderr, "django-authctl: auth: %s\n", proto::status_name(r.status));
            return 3;
    }
}

int cmd_flush(int argc, char** argv) {
    const char* cmd = "flush";
    Target t;
    if (int rc = parse_target(cmd, argc, argv, "", t); rc >= 0) return rc;
    if (!t.args.empty()) return usage_error(cmd, "takes no arguments");
    proto::Writer w(Op::Flush);
    client::Response r;
    if (!ask(cmd, t, w, r)) return kExitFail;
    if (r.status != Status::Ok) return fail(cmd, proto::status_name(r.status));
    return kExitOk;
}

}  // namespace dj::ctl

namespace dj::ctl {

int cmd_throttle(int argc, char** argv) {
    const char* cmd = "throttle";
    Target t;
    if (int rc = parse_target(cmd, argc, argv, "[USER]", t); rc >= 0) return rc;
    if (t.args.size() > 1) return usage_error(cmd, "takes at most one user name");
    proto::Writer w(Op::ThrottleList);
    w.str(t.args.empty() ? "" : t.args[0]);
    client::Response r;
    if (!ask(cmd, t, w, r)) return kExitFail;
    if (r.status != Status::Ok) return fail(cmd, proto::status_name(r.status));
    proto::Reader rd(r.frame);
    uint32_t n = rd.u32();
    std::printf("%-6s %-32s %8s %s\n", "KIND", "NAME", "FAILURES", "LOCKED");
    for (uint32_t i = 0; i < n && rd.ok(); ++i) {
        std::string kind = rd.str(), name = rd.str();
        uint32_t failures = rd.u32(), left = rd.u32();
        if (!rd.ok()) break;
        std::string locked = left == 0 ? "no" : left == UINT32_MAX ? "until reset" : std::to_string(left) + "s";
        std::printf("%-6s %-32s %8u %s\n", kind.c_str(), name.c_str(), failures, locked.c_str());
    }
    if (!rd.at_end()) return fail(cmd, "malformed answer from the daemon");
    return kExitOk;
}

int cmd_reset(int argc, char** argv) {
    const char* cmd = "reset";
    // "--client" is this command's own option; the rest is parse_target's.
    std::vector<char*> args;
    bool client_key = false;
    for (int i = 0; i < argc; ++i) {
        if (i > 0 && std::string(argv[i]) == "--client") client_key = true;
        else args.push_back(argv[i]);
    }
    Target t;
    if (int rc = parse_target(cmd, int(args.size()), args.data(), "USER | --client CLIENT", t); rc >= 0) return rc;
    if (t.args.size() != 1) return usage_error(cmd, client_key ? "needs one client" : "needs one user name");
    proto::Writer w(Op::ThrottleReset);
    w.str(client_key ? "client" : "user");
    w.str(t.args[0]);
    client::Response r;
    if (!ask(cmd, t, w, r)) return kExitFail;
    if (r.status == Status::NotFound) {
        std::printf("%s: no failures recorded\n", t.args[0].c_str());
        return kExitOk;
    }
    if (r.status != Status::Ok) return fail(cmd, proto::status_name(r.status));
    std::printf("%s: reset\n", t.args[0].c_str());
    return kExitOk;
}

}  // namespace dj::ctl
