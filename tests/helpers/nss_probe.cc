// nss_probe: drives glibc's NSS (and so libnss_django.so.2 when the
// nsswitch.conf in effect lists `django`) the way real programs do, for
// tests/integration/test_nss*.py. Plain C++ and libc.
//
//   nss_probe pw NAME | uid UID | gr NAME | gid GID
//       one lookup with a generous buffer; prints the entry like getent, or
//       "notfound", or "error ERRNO"; exit 0 unless the call failed oddly.
//   nss_probe tiny-pw NAME | tiny-gr NAME [OFFSET]
//       getpwnam_r/getgrnam_r with buffers of 0, 1, 2, ... bytes (starting
//       OFFSET bytes into an aligned block, default 1: misaligned) until one
//       fits; every smaller one must fail with ERANGE. Prints
//       "ok tries=N size=S" and the entry.
//   nss_probe grouplist USER GID
//       getgrouplist with room for one group first (must report the real
//       count), then with enough; prints the gids, space separated.
//   nss_probe threads NTHREADS ITERS USER GROUP
//       every thread repeats getpwnam_r, getgrnam_r and getgrouplist and
//       compares with the answers the main thread got first.
//   nss_probe fork USER GROUP ROUNDS [NTHREADS]
//       lookups in the parent, then ROUNDS forks while NTHREADS (default 3)
//       helper threads keep looking up and enumerating; every child looks up
//       again and must get the same answers.
//   nss_probe enum-threads NTHREADS pw|gr
//       NTHREADS threads call getpwent/getgrent until the end; prints every
//       name once per line, and fails on a duplicate.
//   nss_probe direct pw|uid|gr|gid KEY BUFLEN [disable]
//   nss_probe direct initgroups USER GID LIMIT [disable]
//       dlopens libnss_django.so.2 (found like glibc finds it, or $DJ_NSS_MODULE)
//       and calls its entry point itself, bypassing glibc; prints
//       "status=S errno=E" and the entry. `disable` first sets
//       _nss_django_enablelookups to 0, as django-authd does.
#include <dlfcn.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>


namespace {

std::string fmt_pw(const struct passwd& p) {
    return std::string(p.pw_name) + ":" + p.pw_passwd + ":" + std::to_string(p.pw_uid) + ":" +
           std::to_string(p.pw_gid) + ":" + p.pw_gecos + ":" + p.pw_dir + ":" + p.pw_shell;
}

std::string fmt_gr(const struct group& g) {
    std::string s = std::string(g.gr_name) + ":" + g.gr_passwd + ":" + std::to_string(g.gr_gid) + ":";
    for (char** m = g.gr_mem; *m != nullptr; ++m) {
        if (m != g.gr_mem) s += ",";
        s += *m;
    }
    return s;
}

// "entry", "notfound" or "error N".
std::string lookup_pw(const char* name, bool by_uid) {
    std::vector<char> buf(1 << 16);
    for (;;) {
        struct passwd pw {};
        struct passwd* res = nullptr;
        int rc = by_uid ? getpwuid_r(uid_t(std::strtoul(name, nullptr, 10)), &pw, buf.data(), buf.size(), &res)
                        : getpwnam_r(name, &pw, buf.data(), buf.size(), &res);
        if (rc == ERANGE) {
            buf.resize(buf.size() * 2);
            continue;
        }
        if (rc != 0) return "error " + std::to_string(rc);
        if (res == nullptr) return "notfound";
        return fmt_pw(pw);
    }
}

std::string lookup_gr(const char* name, bool by_gid) {
    std::vector<char> buf(1 << 16);
    for (;;) {
        struct group gr {};
        struct group* res = nullptr;
        int rc = by_gid ? getgrgid_r(gid_t(std::strtoul(name, nullptr, 10)), &gr, buf.data(), buf.size(), &res)
                        : getgrnam_r(name, &gr, buf.data(), buf.size(), &res);
        if (rc == ERANGE) {
            buf.resize(buf.size() * 2);
            continue;
        }
        if (rc != 0) return "error " + std::to_string(rc);
        if (res == nullptr) return "notfound";
        if (reinterpret_cast<uintptr_t>(gr.gr_mem) % alignof(char*) != 0) return "error misaligned";
        return fmt_gr(gr);
    }
}

std::string grouplist(const char* user, gid_t gid) {
    int n = 1;
    std::vector<gid_t> g(1);
    int rc = getgrouplist(user, gid, g.data(), &n);
    if (rc == -1) {
        if (n <= 1) return "error count";
        g.resize(size_t(n));
        rc = getgrouplist(user, gid, g.data(), &n);
        if (rc != n) return "error second call";
    }
    g.resize(size_t(n));
    std::sort(g.begin(), g.end());
    std::string s;
    for (gid_t x : g) s += (s.empty() ? "" : " ") + std::to_string(x);
    return s;
}

int tiny(bool group, const char* name, size_t offset) {
    std::vector<char> block(1 << 20);
    for (size_t size = 0; size + 64 < block.size(); ++size) {
        char* buf = block.data() + offset;
        int rc;
        std::string out;
        if (group) {
            struct group gr {};
            struct group* res = nullptr;
            rc = getgrnam_r(name, &gr, buf, size, &res);
            if (rc == 0 && res != nullptr) {
                if (reinterpret_cast<uintptr_t>(gr.gr_mem) % alignof(char*) != 0) {
                    std::printf("misaligned gr_mem\n");
                    return 1;
                }
                out = fmt_gr(gr);
            }
        } else {
            struct passwd pw {};
            struct passwd* res = nullptr;
            rc = getpwnam_r(name, &pw, buf, size, &res);
            if (rc == 0 && res != nullptr) out = fmt_pw(pw);
        }
        if (rc == ERANGE) continue;
        if (rc != 0) {
            std::printf("error %d at size %zu\n", rc, size);
            return 1;
        }
        if (out.empty()) {
            std::printf("notfound at size %zu\n", size);
            return 1;
        }
        std::printf("ok tries=%zu size=%zu\n%s\n", size + 1, size, out.c_str());
        return 0;
    }
    std::printf("never fit\n");
    return 1;
}

struct Answers {
    std::string pw, gr, gl;
};

Answers ask_all(const char* user, const char* group, gid_t gid) {
    return {lookup_pw(user, false), lookup_gr(group, false), grouplist(user, gid)};
}

gid_t primary_gid(const char* user) {
    struct passwd* p = getpwnam(user);
    return p ? p->pw_gid : gid_t(65534);
}

int threads(int nthreads, int iters, const char* user, const char* group) {
    const gid_t gid = primary_gid(user);
    const Answers ref = ask_all(user, group, gid);
    std::printf("%s\n%s\n%s\n", ref.pw.c_str(), ref.gr.c_str(), ref.gl.c_str());
    std::atomic<int> bad{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < nthreads; ++t)
        ts.emplace_back([&] {
            for (int i = 0; i < iters; ++i) {
                Answers a = ask_all(user, group, gid);
                if (a.pw != ref.pw || a.gr != ref.gr || a.gl != ref.gl) ++bad;
            }
        });
    for (auto& t : ts) t.join();
    std::printf("mismatches %d\n", bad.load());
    return bad.load() == 0 ? 0 : 1;
}

int forks(const char* user, const char* group, int rounds, int nthreads) {
    const gid_t gid = primary_gid(user);
    const Answers ref = ask_all(user, group, gid);
    std::atomic<bool> stop{false};
    std::atomic<int> bad{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < nthreads; ++t)
        ts.emplace_back([&] {
            while (!stop) {
                Answers a = ask_all(user, group, gid);
                if (a.pw != ref.pw || a.gr != ref.gr || a.gl != ref.gl) ++bad;
                // Enumeration too, so its lock is exercised around fork().
                // (getgrent_r: getgrent's static result is not for threads.)
                setgrent();
                std::vector<char> buf(1 << 18);
                struct group gr {};
                struct group* res = nullptr;
                while (getgrent_r(&gr, buf.data(), buf.size(), &res) == 0 && res != nullptr) {
                }
                endgrent();
            }
        });
    int child_bad = 0;
    for (int r = 0; r < rounds; ++r) {
        pid_t pid = fork();
        if (pid < 0) {
            ++child_bad;
            break;
        }
        if (pid == 0) {
            Answers a = ask_all(user, group, gid);
            _exit(a.pw == ref.pw && a.gr == ref.gr && a.gl == ref.gl ? 0 : 3);
        }
        int st = 0;
        // The child must finish well within the lookup timeout.
        auto t0 = std::chrono::steady_clock::now();
        for (;;) {
            pid_t w = waitpid(pid, &st, WNOHANG);
            if (w == pid) break;
            if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(10)) {
                kill(pid, SIGKILL);
                waitpid(pid, &st, 0);
                std::printf("child %d hung\n", r);
                ++child_bad;
                break;
            }
            usleep(1000);
        }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) ++child_bad;
    }
    stop = true;
    for (auto& t : ts) t.join();
    std::printf("parent mismatches %d, bad children %d\n", bad.load(), child_bad);
    return bad.load() == 0 && child_bad == 0 ? 0 : 1;
}

int enum_threads(int nthreads, bool group) {
    std::mutex mu;
    std::vector<std::string> names;
    std::atomic<int> errors{0};
    if (group) setgrent(); else setpwent();
    std::vector<std::thread> ts;
    for (int t = 0; t < nthreads; ++t)
        ts.emplace_back([&] {
            std::vector<char> buf(1 << 16);
            for (;;) {
                std::string name;
                int rc;
                if (group) {
                    struct group gr {};
                    struct group* res = nullptr;
                    rc = getgrent_r(&gr, buf.data(), buf.size(), &res);
                    if (rc == 0 && res) name = gr.gr_name;
                } else {
                    struct passwd pw {};
                    struct passwd* res = nullptr;
                    rc = getpwent_r(&pw, buf.data(), buf.size(), &res);
                    if (rc == 0 && res) name = pw.pw_name;
                }
                if (rc == ERANGE) {
                    buf.resize(buf.size() * 2);
                    continue;
                }
                if (rc != 0 || name.empty()) {
                    if (rc != 0 && rc != ENOENT) ++errors;
                    break;
                }
                std::lock_guard<std::mutex> lk(mu);
                names.push_back(name);
            }
        });
    for (auto& t : ts) t.join();
    if (group) endgrent(); else endpwent();
    std::sort(names.begin(), names.end());
    int dups = 0;
    for (size_t i = 0; i < names.size(); ++i) {
        if (i > 0 && names[i] == names[i - 1]) ++dups;
        std::printf("%s\n", names[i].c_str());
    }
    if (dups || errors) std::printf("duplicates %d errors %d\n", dups, errors.load());
    return dups == 0 && errors == 0 ? 0 : 1;
}

int direct(int argc, char** argv) {
    if (argc < 5) return 2;
    const char* path = std::getenv("DJ_NSS_MODULE");
    void* h = dlopen(path ? path : "libnss_django.so.2", RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
        std::printf("dlopen: %s\n", dlerror());
        return 1;
    }
    const std::string what = argv[2];
    const bool disable = std::strcmp(argv[argc - 1], "disable") == 0;
    if (disable) *static_cast<int*>(dlsym(h, "_nss_django_enablelookups")) = 0;
    int err = 0;
    enum nss_status st;
    std::string out;
    if (what == "initgroups") {
        using Fn = enum nss_status (*)(const char*, gid_t, long*, long*, gid_t**, long, int*);
        auto fn = reinterpret_cast<Fn>(dlsym(h, "_nss_django_initgroups_dyn"));
        long start = 1, size = 1;
        auto* groups = static_cast<gid_t*>(std::malloc(sizeof(gid_t)));
        groups[0] = gid_t(std::strtoul(argv[4], nullptr, 10));
        st = fn(argv[3], groups[0], &start, &size, &groups, std::atol(argv[5]), &err);
        out = "start=" + std::to_string(start) + " size=" + std::to_string(size) + " gids=";
        for (long i = 0; i < start; ++i) out += (i ? "," : "") + std::to_string(groups[i]);
        std::free(groups);
    } else {
        std::vector<char> buf(std::strtoul(argv[4], nullptr, 10) + 1);
        char* b = buf.data() + 1;   // deliberately misaligned
        const size_t len = buf.size() - 1;
        if (what == "pw" || what == "uid") {
            struct passwd pw {};
            if (what == "pw") {
                using Fn = enum nss_status (*)(const char*, struct passwd*, char*, size_t, int*);
                st = reinterpret_cast<Fn>(dlsym(h, "_nss_django_getpwnam_r"))(argv[3], &pw, b, len, &err);
            } else {
                using Fn = enum nss_status (*)(uid_t, struct passwd*, char*, size_t, int*);
                st = reinterpret_cast<Fn>(dlsym(h, "_nss_django_getpwuid_r"))(
                    uid_t(std::strtoul(argv[3], nullptr, 10)), &pw, b, len, &err);
            }
            if (st == NSS_STATUS_SUCCESS) out = fmt_pw(pw);
        } else {
            struct group gr {};
            if (what == "gr") {
                using Fn = enum nss_status (*)(const char*, struct group*, char*, size_t, int*);
                st = reinterpret_cast<Fn>(dlsym(h, "_nss_django_getgrnam_r"))(argv[3], &gr, b, len, &err);
            } else {
                using Fn = enum nss_status (*)(gid_t, struct group*, char*, size_t, int*);
                st = reinterpret_cast<Fn>(dlsym(h, "_nss_django_getgrgid_r"))(
                    gid_t(std::strtoul(argv[3], nullptr, 10)), &gr, b, len, &err);
            }
            if (st == NSS_STATUS_SUCCESS) {
                if (reinterpret_cast<uintptr_t>(gr.gr_mem) % alignof(char*) != 0) out = "misaligned";
                else out = fmt_gr(gr);
            }
        }
    }
    const char* name = st == NSS_STATUS_SUCCESS ? "SUCCESS"
                       : st == NSS_STATUS_NOTFOUND ? "NOTFOUND"
                       : st == NSS_STATUS_UNAVAIL ? "UNAVAIL"
                       : st == NSS_STATUS_TRYAGAIN ? "TRYAGAIN" : "OTHER";
    std::printf("status=%s errno=%s\n%s\n", name,
                err == 0 ? "0" : err == ERANGE ? "ERANGE" : err == ENOENT ? "ENOENT" : std::to_string(err).c_str(),
                out.c_str());
    return 0;
}

int usage() {
    std::fprintf(stderr, "usage: see the comment at the top of nss_probe.cc\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) return usage();
    const std::string cmd = argv[1];
    if (cmd == "pw" || cmd == "uid" || cmd == "gr" || cmd == "gid") {
        std::string r = (cmd == "pw" || cmd == "uid") ? lookup_pw(argv[2], cmd == "uid")
                                                      : lookup_gr(argv[2], cmd == "gid");
        std::printf("%s\n", r.c_str());
        return r.rfind("error", 0) == 0 ? 1 : 0;
    }
    if (cmd == "tiny-pw" || cmd == "tiny-gr")
        return tiny(cmd == "tiny-gr", argv[2], argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 1);
    if (cmd == "grouplist" && argc == 4) {
        std::string r = grouplist(argv[2], gid_t(std::strtoul(argv[3], nullptr, 10)));
        std::printf("%s\n", r.c_str());
        return r.rfind("error", 0) == 0 ? 1 : 0;
    }
    if (cmd == "threads" && argc == 6) return threads(std::atoi(argv[2]), std::atoi(argv[3]), argv[4], argv[5]);
    if (cmd == "fork" && argc >= 5) return forks(argv[2], argv[3], std::atoi(argv[4]), argc > 5 ? std::atoi(argv[5]) : 3);
    if (cmd == "enum-threads" && argc == 4) return enum_threads(std::atoi(argv[2]), std::strcmp(argv[3], "gr") == 0);
    if (cmd == "direct") return direct(argc, argv);
    return usage();
}
