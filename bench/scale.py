#!/usr/bin/python3
"""make bench, section 4: lookup latency as the database grows to BENCH_SCALE
users (default 1000,100000,1000000); the daemon's and a client's memory."""
import os
import subprocess
import time

from benchlib import OURS, Daemon, log, main, private_argv

def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def mode_scale(b, sizes):
    """Section 4: lookup latency as the database grows; memory bounds."""
    mount = b.etc_bind("ours", OURS)
    for n in sizes:
        db = b.database(users=n, groups=10000, per_user="scale", big_group=min(n, 100000), user_in=1000)
        # Users from all over the table (not u1, who is in 1,000 groups); the
        # groups whose size does not change with the table's.
        users = b.names("u%d" % n, ["u%d" % (2 + (i * 7919) % (n - 1)) for i in range(2000)])
        groups = b.names("g%d" % n, ["g%d" % (2 + i % 100) for i in range(100)])
        tag = "n%d" % n
        with b.daemon(db, tag + "cold", cache=False) as d:
            env = {"LD_LIBRARY_PATH": str(b.build), "DJANGO_AUTH_SOCKET": str(d.socket)}
            for kind, names in (("pw", users), ("gr", groups), ("gl", users)):
                r = b.nss_bench(mount, kind, names, env, seconds=1.5)
                b.put("%s_cold_%s_p50_us" % (tag, kind), "%.1f" % r["p50_us"])
                b.put("%s_cold_%s_p99_us" % (tag, kind), "%.1f" % r["p99_us"])
        with b.daemon(db, tag + "warm") as d:
            env = {"LD_LIBRARY_PATH": str(b.build), "DJANGO_AUTH_SOCKET": str(d.socket)}
            for kind, names in (("pw", users), ("gr", groups)):
                b.nss_bench(mount, kind, names, env, seconds=0)
                r = b.nss_bench(mount, kind, names, env, seconds=1.5)
                b.put("%s_warm_%s_p50_us" % (tag, kind), "%.2f" % r["p50_us"])
                b.put("%s_warm_%s_p99_us" % (tag, kind), "%.2f" % r["p99_us"])
            # The big group (g1, up to 100,000 members) and the user in 1,000 groups.
            with d.client(timeout=60) as c:
                t = time.perf_counter()
                g = c.gr_by_name("g1")
                b.put("%s_big_group_ms" % tag, "%.1f" % ((time.perf_counter() - t) * 1000))
                t = time.perf_counter()
                gl = c.groups_of_user("u1")
                b.put("%s_user_in_1000_groups_ms" % tag, "%.1f" % ((time.perf_counter() - t) * 1000))
                log("  g1:", str(g)[:80], "u1 groups:", str(gl)[:80])
        if n == sizes[-1]:
            mode_memory(b, db, n, mount)


def mode_memory(b, db, n, mount):
    # Cache bounded by its configuration: 10,000 entries, 4 MiB.
    d = Daemon(b.build, b.work / "mem", b.cluster.db_section(db),
               cache={"positive_ttl": 600, "max_entries": 10000, "max_bytes": 4 * 1024 * 1024})
    with d:
        pid = d.proc.pid
        b.put("mem_start_kib", rss_kib(pid))
        env = {"LD_LIBRARY_PATH": str(b.build), "DJANGO_AUTH_SOCKET": str(d.socket)}
        names = b.names("many", ["u%d" % i for i in range(1, min(n, 200000) + 1)])
        b.nss_bench(mount, "pw", names, env, seconds=8.0, threads=2)
        with d.client() as c:
            st = c.stats()
        b.put("mem_after_lookups_kib", rss_kib(pid))
        b.put("mem_cache_entries", st.get("cache_entries"))
        # Enumeration: getent passwd over every user, client and daemon RSS.
        before = rss_kib(pid)
        t = time.time()
        out = b.in_ns(mount, ["sh", "-c", "getent passwd | wc -l"], env, timeout=1200)
        b.put("enum_entries", out.split()[0])
        b.put("enum_seconds", "%.1f" % (time.time() - t))
        b.put("enum_daemon_rss_before_kib", before)
        b.put("enum_daemon_rss_after_kib", rss_kib(pid))
        e = dict(os.environ, **env)
        cmd = private_argv(["sh", "-c", "/usr/bin/time -f 'maxrss %M' getent passwd > /dev/null"], mount)
        r = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=1200)
        b.put("enum_client_maxrss_kib", r.stderr.split("maxrss")[-1].strip())
        cmd = private_argv(["sh", "-c", "/usr/bin/time -f 'maxrss %M' getent passwd u1 > /dev/null"], mount)
        r = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=60)
        b.put("one_client_maxrss_kib", r.stderr.split("maxrss")[-1].strip())


if __name__ == "__main__":
    main(lambda b: mode_scale(b, [int(x) for x in os.environ.get("BENCH_SCALE", "1000,100000,1000000").split(",")]))
