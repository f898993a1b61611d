#!/usr/bin/python3
"""django-authd measurements: lookup latency over the socket (warm cache on
SQLite; cold, cache off, against PostgreSQL) and the daemon's memory with
100,000 users. Run as root with Debian's python3:

    DJ_BUILD=build /usr/bin/python3 bench/daemon_bench.py [--users 100000]

The 100,000 users are inserted with SQL into a Django-migrated PostgreSQL
database (create_user would take far too long)."""
import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests" / "integration"))
os.environ.setdefault("DJ_TOP", str(TOP))

import conftest  # noqa: E402
import fixtures_db  # noqa: E402
from fixtures_daemon import Daemon  # noqa: E402


def pct(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * p / 100))]


def measure(label, fn, n):
    samples = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - t) * 1e6)
    print("%-58s p50 %7.0f us   p99 %7.0f us   (n=%d)" % (label, pct(samples, 50), pct(samples, 99), n))


def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=100000)
    ap.add_argument("-n", type=int, default=3000)
    args = ap.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="djauth-bench-"))
    cluster = fixtures_db.PgCluster()
    try:
        cluster.createdb("big")
        env = cluster.env("big")
        subprocess.run(["/usr/bin/python3", "-c", "import django; django.setup();"
                        "from django.core.management import call_command; call_command('migrate', verbosity=0)"],
                       env=env, check=True)
        t = time.time()
        cluster.psql(
            "INSERT INTO auth_group (name) SELECT 'group' || g FROM generate_series(1, 200) g",
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff,"
            " is_active, date_joined) SELECT 'pbkdf2_sha256$1000$salt$' || md5(i::text), false, 'u' || i,"
            " 'First' || i, 'Last', '', false, i %% 10 <> 0, now() FROM generate_series(1, %d) i" % args.users,
            "INSERT INTO auth_user_groups (user_id, group_id) SELECT id, 1 + (id % 200) FROM auth_user",
            "INSERT INTO auth_user_groups (user_id, group_id) SELECT id, 1 + ((id * 7) % 200) FROM auth_user"
            " WHERE (id * 7) % 200 <> id % 200",
            "ANALYZE", db="big")
        print("inserted %d users, 200 groups, memberships in %.1f s" % (args.users, time.time() - t))
        section = cluster.db_section("big")

        # Cold: no cache, every lookup is a PostgreSQL query.
        with Daemon(conftest.BUILD, work / "cold", section, cache={"positive_ttl": 0, "negative_ttl": 0}) as d:
            with d.client() as c:
                measure("PwByName, PostgreSQL, cache off, one connection",
                        lambda i: c.pw_by_name("u%d" % (1 + (i * 7919) % args.users)), args.n)
                measure("GroupsOfUser, PostgreSQL, cache off, one connection",
                        lambda i: c.groups_of_user("u%d" % (1 + (i * 104729) % args.users)), args.n)

            def fresh(i):
                with d.client() as c2:
                    c2.pw_by_uid(200000 + 1 + (i * 31) % args.users)
            measure("PwByUid, PostgreSQL, cache off, connection per request", fresh, args.n)

        # Warm: the same lookups answered from the cache.
        with Daemon(conftest.BUILD, work / "warm", section) as d:
            with d.client() as c:
                for i in range(200):
                    c.pw_by_name("u%d" % (1 + i))
                measure("PwByName, cache warm, one connection", lambda i: c.pw_by_name("u%d" % (1 + i % 200)), args.n)

            def fresh_warm(i):
                with d.client() as c2:
                    c2.pw_by_name("u%d" % (1 + i % 200))
            measure("PwByName, cache warm, connection per request", fresh_warm, args.n)

            pid = d.proc.pid
            print("RSS after start and 200 lookups:            %6d KiB" % rss_kib(pid))
            with d.client(timeout=120) as c:
                t = time.time()
                users = c.pw_list(page=1000)
                print("enumerated %d passwd entries in %.2f s" % (len(users), time.time() - t))
                t = time.time()
                groups = c.gr_list(page=1000)
                print("enumerated %d groups (%d member names) in %.2f s"
                      % (len(groups), sum(len(g["members"]) for g in groups), time.time() - t))
                print("RSS after enumerating everything:            %6d KiB" % rss_kib(pid))
                t = time.time()
                for i in range(1, args.users + 1):
                    c.pw_by_name("u%d" % i)
                print("looked up all %d users by name in %.1f s" % (args.users, time.time() - t))
                st = c.stats()
                print("RSS with %s cached entries (%s bytes):  %6d KiB"
                      % (st["cache_entries"], st["cache_bytes"], rss_kib(pid)))
    finally:
        cluster.destroy()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
