// nss_bench: lookup throughput and latency for make bench (bench/run).
//
//   nss_bench nss pw|gr|gl|dgr SECONDS THREADS NAMES_FILE [GID]
//       in-process glibc lookups (getpwnam_r, getgrnam_r, getgrouplist) of
//       the names in NAMES_FILE (one a line, taken round robin, each thread
//       from its own offset) for SECONDS; whatever nsswitch.conf says
//       answers (dgr: libnss_django.so.2's getgrnam_r called directly;
//       nsstat: stat("/etc/nsswitch.conf") alone, which glibc does on every
//       lookup before any module runs). Prints "ops N per_s R p50_us A p99_us B errors E".
//   nss_bench mix SECONDS LOOKERS LOGINS USERS_FILE PASSWORD [rate=R] [threads=N] [keep]
//       against django-authd's socket ($DJANGO_AUTH_SOCKET): LOOKERS clients
//       looking users up (PwByName) and LOGINS clients authenticating (every
//       user has PASSWORD), all at once, each with one request at a time and
//       one connection a request (keep: one connection each for all its
//       requests). rate=R: the lookers together send R lookups a second
//       (default: each sends its next as soon as it has the answer).
//       threads=N: OS threads driving the clients (default 1, with epoll).
//       Prints lookup and login rates and latencies, the CPU the client used
//       (cores) and the number of failed requests.
#include <dlfcn.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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
    if (kind == "nsstat") {
        struct stat st {};
        return ::stat("/etc/nsswitch.conf", &st) == 0;
    }
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

// --- mix: many clients on django-authd's socket ---------------------------------
// One request per connection, as libnss_django.so.2 and pam_django.so do it
// (connect, send, read the answer, close), without their per-call checks of
// the socket's owner: the load generator has to cost little next to the
// daemon it loads. `threads=N` OS threads (default 1) drive all the
// connections with epoll, instead of one thread per client competing with
// the daemon for the cores.
struct MixOpts {
    double seconds = 4;
    int lookers = 0, loggers = 0;
    double rate = 0;    // lookups per second over all lookers; 0: each looker as fast as answered
    int threads = 1;
    bool keep = false;  // send the next request on the same connection
};

struct Slot {
    bool login = false;
    int fd = -1;
    uint64_t i = 0;               // which name next
    Clock::time_point t0;         // request sent
    Clock::time_point next;       // paced lookers: when the next request is due
    bool waiting = false;         // idle until `next`
    std::string in;
};

struct MixResult {
    uint64_t lookups = 0, logins = 0, errors = 0;
    std::vector<float> lookup_us, login_us;
};

std::vector<uint8_t> mix_frame(const std::string& name, const std::string* password) {
    dj::proto::Writer w(password ? dj::proto::Op::Authenticate : dj::proto::Op::PwByName);
    w.str(name);
    if (password) {
        w.str(*password);
        w.str("bench");
        w.str("");
    }
    return w.finish();
}

void mix_thread(const MixOpts& o, const sockaddr_un& addr, const std::vector<std::vector<uint8_t>>& look_frames,
                const std::vector<std::vector<uint8_t>>& login_frames, std::vector<Slot>& slots, int slot_lookers,
                Clock::time_point end, MixResult& res) {
    res.lookup_us.reserve(1 << 20);
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    // A paced looker sends every `period`: together they make `rate` a second.
    const auto period = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(o.rate > 0 ? double(o.lookers) / o.rate : 0));
    auto drop = [&](Slot& s) {
        if (s.fd >= 0) close(s.fd);  // also leaves the epoll set
        s.fd = -1;
        s.in.clear();
    };
    // Sends the slot's next request; a failure counts as an error and the
    // slot tries again 1 ms later.
    auto begin = [&](Slot& s, size_t idx, Clock::time_point now) {
        const auto& frames = s.login ? login_frames : look_frames;
        const auto& f = frames[s.i++ % frames.size()];
        s.waiting = false;
        s.t0 = now;
        s.in.clear();
        if (s.fd < 0) {
            s.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u64 = idx;
            if (s.fd < 0 || connect(s.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
                epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev) != 0) {
                if (errno != EAGAIN) ++res.errors;  // EAGAIN: the listen backlog is full, not a failure
                drop(s);
                s.waiting = true;
                s.next = now + std::chrono::milliseconds(1);
                return;
            }
        }
        if (send(s.fd, f.data(), f.size(), MSG_NOSIGNAL) != ssize_t(f.size())) {
            ++res.errors;
            drop(s);
            s.waiting = true;
            s.next = now + std::chrono::milliseconds(1);
            return;
        }
        if (!o.keep) shutdown(s.fd, SHUT_WR);  // one request a connection, as the modules send it
    };
    auto now = Clock::now();
    for (size_t k = 0; k < slots.size(); ++k) {
        Slot& s = slots[k];
        if (!s.login && o.rate > 0) {  // spread the paced lookers' sends over one period
            s.waiting = true;
            s.next = now + period * int(k) / std::max(1, slot_lookers);
        } else {
            begin(s, k, now);
        }
    }
    epoll_event events[64];
    char buf[16384];
    while ((now = Clock::now()) < end) {
        auto wake = end;
        for (auto& s : slots)
            if (s.waiting) wake = std::min(wake, s.next);
        if (wake <= now) {
            for (size_t k = 0; k < slots.size(); ++k)
                if (slots[k].waiting && slots[k].next <= now) begin(slots[k], k, now);
            continue;
        }
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wake - now).count();
        timespec ts{time_t(ns / 1000000000), long(ns % 1000000000)};
        int n = epoll_pwait2(ep, events, 64, &ts, nullptr);
        now = Clock::now();
        for (int e = 0; e < n; ++e) {
            size_t k = size_t(events[e].data.u64);
            Slot& s = slots[k];
            ssize_t r;
            while ((r = recv(s.fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) s.in.append(buf, size_t(r));
            uint32_t len = s.in.size() >= 4 ? dj::proto::read_be32(reinterpret_cast<const uint8_t*>(s.in.data())) : 0;
            bool whole = s.in.size() >= 4 && s.in.size() >= 4 + size_t(len) && len >= dj::proto::kHeaderSize;
            if (!whole) {
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {  // closed before answering
                    ++res.errors;
                    drop(s);
                    begin(s, k, now);
                }
                continue;
            }
            const bool ok = static_cast<uint8_t>(s.in[6]) == uint8_t(dj::proto::Status::Ok);
            if (now <= end) {
                if (!ok) ++res.errors;
                float us = std::chrono::duration<float, std::micro>(now - s.t0).count();
                if (s.login) {
                    ++res.logins;
                    res.login_us.push_back(us);
                } else {
                    ++res.lookups;
                    if (res.lookup_us.size() < (1u << 22)) res.lookup_us.push_back(us);
                }
            }
            if (!o.keep) drop(s);
            if (s.login || o.rate <= 0) {
                begin(s, k, now);
            } else {
                s.next += period;  // paced: keep to the schedule
                if (s.next <= now) begin(s, k, now);
                else s.waiting = true;
            }
        }
    }
    for (auto& s : slots) drop(s);
    close(ep);
}

//   nss_bench mix SECONDS LOOKERS LOGINS USERS_FILE PASSWORD [rate=R] [threads=N] [keep]
int mix_mode(int argc, char** argv) {
    if (argc < 7) return 2;
    MixOpts o;
    o.seconds = std::atof(argv[2]);
    o.lookers = std::max(0, std::atoi(argv[3]));
    o.loggers = std::max(0, std::atoi(argv[4]));
    auto names = read_names(argv[5]);
    std::string password = argv[6];
    for (int a = 7; a < argc; ++a) {
        std::string opt = argv[a];
        if (opt.rfind("rate=", 0) == 0) o.rate = std::atof(opt.c_str() + 5);
        else if (opt.rfind("threads=", 0) == 0) o.threads = std::max(1, std::atoi(opt.c_str() + 8));
        else if (opt == "keep") o.keep = true;
        else return 2;
    }
    if (names.empty()) return 2;
    std::string path = dj::client::default_socket_path();
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) return 2;
    std::memcpy(addr.sun_path, path.data(), path.size());
    std::vector<std::vector<uint8_t>> look_frames, login_frames;
    for (const auto& n : names) {
        look_frames.push_back(mix_frame(n, nullptr));
        login_frames.push_back(mix_frame(n, &password));
    }
    // Clients dealt round robin to the threads; each starts at its own name.
    std::vector<std::vector<Slot>> per(size_t(o.threads));
    std::vector<int> lookers_in(size_t(o.threads), 0);
    for (int c = 0; c < o.lookers + o.loggers; ++c) {
        Slot s;
        s.login = c >= o.lookers;
        s.i = uint64_t(c) * 7919;
        if (!s.login) ++lookers_in[size_t(c % o.threads)];
        per[size_t(c % o.threads)].push_back(std::move(s));
    }
    std::vector<MixResult> rs(size_t(o.threads));
    rusage ru0{}, ru1{};
    getrusage(RUSAGE_SELF, &ru0);
    const auto start = Clock::now();
    const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
    std::vector<std::thread> ts;
    for (int t = 0; t < o.threads; ++t)
        ts.emplace_back([&, t] {
            mix_thread(o, addr, look_frames, login_frames, per[size_t(t)], lookers_in[size_t(t)], end, rs[size_t(t)]);
        });
    for (auto& t : ts) t.join();
    getrusage(RUSAGE_SELF, &ru1);
    auto cpu = [](const rusage& r) {
        return double(r.ru_utime.tv_sec + r.ru_stime.tv_sec) + double(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
    };
    MixResult all;
    for (auto& r : rs) {
        all.lookups += r.lookups;
        all.logins += r.logins;
        all.errors += r.errors;
        all.lookup_us.insert(all.lookup_us.end(), r.lookup_us.begin(), r.lookup_us.end());
        all.login_us.insert(all.login_us.end(), r.login_us.begin(), r.login_us.end());
    }
    printf("lookups_per_s %.0f lookup_p50_us %.1f lookup_p99_us %.1f lookup_p999_us %.1f logins_per_s %.1f "
           "login_p50_ms %.1f login_p99_ms %.1f client_cpu %.2f errors %llu\n",
           double(all.lookups) / o.seconds, pct(all.lookup_us, 50), pct(all.lookup_us, 99), pct(all.lookup_us, 99.9),
           double(all.logins) / o.seconds, pct(all.login_us, 50) / 1000.0, pct(all.login_us, 99) / 1000.0,
           (cpu(ru1) - cpu(ru0)) / o.seconds, (unsigned long long)all.errors);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 2 && std::strcmp(argv[1], "nss") == 0) return nss_mode(argc, argv);
    if (argc >= 2 && std::strcmp(argv[1], "mix") == 0) return mix_mode(argc, argv);
    fprintf(stderr, "usage: see the top of bench/nss_bench.cc\n");
    return 2;
}
