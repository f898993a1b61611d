// nss_bench: lookup throughput and latency for make bench (bench/run).
//
//   nss_bench nss pw|gr|gl|dgr SECONDS THREADS NAMES_FILE [GID]
//       in-process glibc lookups (getpwnam_r, getgrnam_r, getgrouplist) of
//       the names in NAMES_FILE (one a line, taken round robin, each thread
//       from its own offset) for SECONDS; whatever nsswitch.conf says
//       answers (dgr: libnss_django.so.2's getgrnam_r called directly). Prints "ops N per_s R p50_us A p99_us B errors E".
//   nss_bench mix SECONDS THREADS LOGIN_THREADS USERS_FILE PASSWORD
//       against django-authd's socket ($DJANGO_AUTH_SOCKET): THREADS clients
//       looking users up (PwByName) and LOGIN_THREADS clients authenticating
//       (every user has PASSWORD), all at once. Prints lookup and login
//       rates and lookup latency.
#include <dlfcn.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/client.h"
#include "common/protocol.h"

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> read_names(const char* path) {
    std::vector<std::string> out;
    std::ifstream f(path);
    std::string line;
    while (std::getline(f, line))
        if (!line.empty()) out.push_back(line);
    return out;
}

struct Result {
    uint64_t ops = 0, errors = 0;
    std::vector<float> lat_us;  // a sample of latencies
};

double pct(std::vector<float>& v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    size_t i = std::min(v.size() - 1, size_t(double(v.size()) * p / 100.0));
    return v[i];
}

// "dgr": the module's own _nss_django_getgrnam_r, called directly (dlopen),
// to separate the module's cost from glibc's (which stats nsswitch.conf on
// every call).
using GrnamFn = enum nss_status (*)(const char*, struct group*, char*, size_t, int*);
GrnamFn direct_grnam() {
    static GrnamFn fn = [] {
        void* h = dlopen("libnss_django.so.2", RTLD_NOW);
        return h ? reinterpret_cast<GrnamFn>(dlsym(h, "_nss_django_getgrnam_r")) : nullptr;
    }();
    return fn;
}

bool one_lookup(const std::string& kind, const std::string& name, gid_t gid, std::vector<char>& buf) {
    if (kind == "dgr") {
        GrnamFn fn = direct_grnam();
        if (fn == nullptr) return false;
        struct group gr {};
        int err = 0;
        for (;;) {
            enum nss_status st = fn(name.c_str(), &gr, buf.data(), buf.size(), &err);
            if (st == NSS_STATUS_TRYAGAIN && err == ERANGE) {
                buf.resize(buf.size() * 2);
                continue;
            }
            return st == NSS_STATUS_SUCCESS;
        }
    }
    if (kind == "pw") {
        struct passwd pw {};
        struct passwd* res = nullptr;
        for (;;) {
            int rc = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &res);
            if (rc == ERANGE) {
                buf.resize(buf.size() * 2);
                continue;
            }
            return rc == 0 && res != nullptr;
        }
    }
    if (kind == "gr") {
        struct group gr {};
        struct group* res = nullptr;
        for (;;) {
            int rc = getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &res);
            if (rc == ERANGE) {
                buf.resize(buf.size() * 2);
                continue;
            }
            return rc == 0 && res != nullptr;
        }
    }
    gid_t groups[4096];
    int n = 4096;
    return getgrouplist(name.c_str(), gid, groups, &n) >= 1;
}

template <typename Fn>
Result run_for(double seconds, int thread_idx, Fn&& fn) {
    Result r;
    r.lat_us.reserve(1 << 20);
    const auto end = Clock::now() + std::chrono::duration<double>(seconds);
    uint64_t i = uint64_t(thread_idx) * 7919;
    for (;;) {
        auto t0 = Clock::now();
        if (t0 >= end) break;
        bool ok = fn(i++);
        auto t1 = Clock::now();
        ++r.ops;
        if (!ok) ++r.errors;
        if (r.lat_us.size() < (1u << 20)) r.lat_us.push_back(std::chrono::duration<float, std::micro>(t1 - t0).count());
    }
    return r;
}

Result merge(std::vector<Result>& rs) {
    Result all;
    for (auto& r : rs) {
        all.ops += r.ops;
        all.errors += r.errors;
        all.lat_us.insert(all.lat_us.end(), r.lat_us.begin(), r.lat_us.end());
    }
    return all;
}

int nss_mode(int argc, char** argv) {
    if (argc < 6) return 2;
    std::string kind = argv[2];
    double seconds = std::atof(argv[3]);
    int threads = std::max(1, std::atoi(argv[4]));
    auto names = read_names(argv[5]);
    gid_t gid = argc > 6 ? gid_t(std::strtoul(argv[6], nullptr, 10)) : 100;
    if (names.empty()) return 2;
    // One untimed pass over a few names: libraries loaded, connections open.
    {
        std::vector<char> buf(1 << 16);
        for (size_t i = 0; i < std::min<size_t>(names.size(), 8); ++i) one_lookup(kind, names[i], gid, buf);
    }
    // SECONDS 0: one pass over every name (fills caches), nothing timed.
    if (seconds <= 0) {
        std::vector<char> buf(1 << 16);
        uint64_t errors = 0;
        for (const auto& n : names) errors += one_lookup(kind, n, gid, buf) ? 0 : 1;
        printf("ops %zu per_s 0 p50_us 0 p99_us 0 errors %llu\n", names.size(), (unsigned long long)errors);
        return 0;
    }
    std::vector<Result> rs(static_cast<size_t>(threads));
    std::vector<std::thread> ts;
    auto start = Clock::now();
    for (int t = 0; t < threads; ++t)
        ts.emplace_back([&, t] {
            std::vector<char> buf(1 << 16);
            rs[size_t(t)] = run_for(seconds, t, [&](uint64_t i) {
                return one_lookup(kind, names[i % names.size()], gid, buf);
            });
        });
    for (auto& t : ts) t.join();
    double wall = std::chrono::duration<double>(Clock::now() - start).count();
    Result all = merge(rs);
    printf("ops %llu per_s %.0f p50_us %.2f p99_us %.2f errors %llu\n", (unsigned long long)all.ops,
           double(all.ops) / wall, pct(all.lat_us, 50), pct(all.lat_us, 99), (unsigned long long)all.errors);
    return 0;
}

bool socket_call(dj::proto::Writer& w, dj::proto::Status want) {
    dj::client::Options opt;
    opt.timeout_ms = 30000;
    auto r = dj::client::call(opt, w.finish());
    return r.transport == dj::client::Transport::Ok && r.status == want;
}

int mix_mode(int argc, char** argv) {
    if (argc < 7) return 2;
    double seconds = std::atof(argv[2]);
    int lookers = std::atoi(argv[3]);
    int loggers = std::atoi(argv[4]);
    auto names = read_names(argv[5]);
    std::string password = argv[6];
    if (names.empty()) return 2;
    std::vector<Result> look(size_t(std::max(0, lookers))), login(size_t(std::max(0, loggers)));
    std::vector<std::thread> ts;
    auto start = Clock::now();
    for (int t = 0; t < lookers; ++t)
        ts.emplace_back([&, t] {
            look[size_t(t)] = run_for(seconds, t, [&](uint64_t i) {
                dj::proto::Writer w(dj::proto::Op::PwByName);
                w.str(names[i % names.size()]);
                return socket_call(w, dj::proto::Status::Ok);
            });
        });
    for (int t = 0; t < loggers; ++t)
        ts.emplace_back([&, t] {
            login[size_t(t)] = run_for(seconds, t + 1000, [&](uint64_t i) {
                dj::proto::Writer w(dj::proto::Op::Authenticate);
                w.str(names[i % names.size()]);
                w.str(password);
                w.str("bench");
                w.str("");
                return socket_call(w, dj::proto::Status::Ok);
            });
        });
    for (auto& t : ts) t.join();
    double wall = std::chrono::duration<double>(Clock::now() - start).count();
    Result l = merge(look), a = merge(login);
    printf("lookups_per_s %.0f lookup_p50_us %.1f lookup_p99_us %.1f logins_per_s %.1f login_p99_ms %.1f errors %llu\n",
           double(l.ops) / wall, pct(l.lat_us, 50), pct(l.lat_us, 99), double(a.ops) / wall,
           pct(a.lat_us, 99) / 1000.0, (unsigned long long)(l.errors + a.errors));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 2 && std::strcmp(argv[1], "nss") == 0) return nss_mode(argc, argv);
    if (argc >= 2 && std::strcmp(argv[1], "mix") == 0) return mix_mode(argc, argv);
    fprintf(stderr, "usage: see the top of bench/nss_bench.cc\n");
    return 2;
}
