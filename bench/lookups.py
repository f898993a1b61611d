#!/usr/bin/python3
"""make bench, sections 2, 4 and 5: NSS lookups against libnss-pgsql2, scale,
and concurrency. Run as root with Debian's python3 (bench/run does):

    bench/lookups.py BUILD nss|scale|mix OUT

Each mode starts its own PostgreSQL cluster (tests/integration/fixtures_db),
migrates a Django database, fills it with SQL, starts django-authd over it,
and writes "key value" lines to OUT for bench/run to tabulate.

Lookups run in a private mount namespace whose /etc is an overlay holding
the benchmark's nsswitch.conf (and, for the peer, /etc/nss-pgsql.conf and
/etc/nss-pgsql-root.conf with queries over the same Django tables), so the
host's files are never touched."""
import os
import pathlib
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests" / "integration"))
os.environ.setdefault("DJ_TOP", str(TOP))

UID_BASE = 200000
GID_BASE = 200000
PASSWORD = "bench-password"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, build, out):
        os.environ["DJ_BUILD"] = str(build)
        global conftest, fixtures_db, Daemon, djproto
        import conftest  # noqa: F401
        import djproto  # noqa: F401
        import fixtures_db  # noqa: F401
        from fixtures_daemon import Daemon  # noqa: F401
        self.build = pathlib.Path(build)
        self.out = open(out, "w")
        self.work = pathlib.Path(tempfile.mkdtemp(prefix="djauth-bench-"))
        os.chmod(self.work, 0o755)
        self.cluster = fixtures_db.PgCluster()
        self.dbs = 0

    def put(self, key, value):
        self.out.write("%s %s\n" % (key, value))
        self.out.flush()
        log("  %s %s" % (key, value))

    def close(self):
        self.cluster.destroy()
        shutil.rmtree(self.work, ignore_errors=True)
        self.out.close()

    # --- database ------------------------------------------------------------------
    def database(self, users, groups, per_user=2, big_group=0, user_in=0, hash_=None):
        """A migrated Django database: users u1..uN, groups g1..gG; every user
        in `per_user` groups; g1 with `big_group` members more; u1 in `user_in`
        groups. Returns its name."""
        self.dbs += 1
        name = "bench%d" % self.dbs
        self.cluster.createdb(name)
        env = self.cluster.env(name)
        subprocess.run(["/usr/bin/python3", "-c", "import django; django.setup();"
                        "from django.core.management import call_command; call_command('migrate', verbosity=0)"],
                       env=env, check=True)
        hash_ = hash_ or "pbkdf2_sha256$1000$salt$x"
        t = time.time()
        sql = [
            "INSERT INTO auth_group (name) SELECT 'g' || g FROM generate_series(1, %d) g" % groups,
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff,"
            " is_active, date_joined) SELECT '%s', false, 'u' || i, 'First' || i, 'Last', '', false, true, now()"
            " FROM generate_series(1, %d) i" % (hash_, users),
        ]
        if per_user == "scale":
            # Every user in two groups, g2..g101 with the same 10 members (u1..u1000)
            # whatever the size, the others spread over g102 and up.
            sql.append("INSERT INTO auth_user_groups (user_id, group_id) SELECT id, CASE WHEN id <= 1000"
                       " THEN 2 + id %% 100 ELSE 102 + id %% %d END FROM auth_user" % (groups - 101))
            sql.append("INSERT INTO auth_user_groups (user_id, group_id) SELECT id, 102 + (id * 7) %% %d"
                       " FROM auth_user ON CONFLICT DO NOTHING" % (groups - 101))
            per_user = 0
        for k in range(per_user):
            sql.append("INSERT INTO auth_user_groups (user_id, group_id) SELECT id, 2 + ((id * %d + %d) %% %d)"
                       " FROM auth_user ON CONFLICT DO NOTHING" % (7 + k * 6, k * 13, max(1, groups - 1)))
        if big_group:
            sql.append("INSERT INTO auth_user_groups (user_id, group_id) SELECT id, 1 FROM auth_user"
                       " WHERE id <= %d ON CONFLICT DO NOTHING" % big_group)
        if user_in:
            sql.append("INSERT INTO auth_user_groups (user_id, group_id) SELECT 1, g FROM"
                       " generate_series(2, %d) g ON CONFLICT DO NOTHING" % (user_in + 1))
        sql.append("ANALYZE")
        for statement in sql:   # one at a time: psql's time limit is per call
            self.cluster.psql(statement, db=name)
        log("  database %s: %d users, %d groups in %.1f s" % (name, users, groups, time.time() - t))
        return name

    def daemon(self, db, tag, cache=True, daemon_extra=None):
        # Logins keep the stored hash (no rehash to the test config's count).
        sections = {"passwords": {"rehash_on_login": False, "update_last_login": False}}
        if not cache:
            sections["cache"] = {"positive_ttl": 0, "negative_ttl": 0}
        if daemon_extra:
            sections["daemon"] = daemon_extra
        return Daemon(self.build, self.work / tag, self.cluster.db_section(db), **sections)

    # --- running lookups in a namespace ----------------------------------------------
    def etc_overlay(self, tag, nsswitch, pgsql_db=None):
        d = self.work / ("etc-" + tag)
        upper, wd = d / "upper", d / "work"
        upper.mkdir(parents=True, exist_ok=True)
        wd.mkdir(exist_ok=True)
        (upper / "nsswitch.conf").write_text(nsswitch)
        if pgsql_db:
            conf = pgsql_conf(self.cluster, pgsql_db)
            for f in ("nss-pgsql.conf", "nss-pgsql-root.conf"):
                (upper / f).write_text(conf)
                os.chmod(upper / f, 0o600)
        return "mount -t overlay overlay -o lowerdir=/etc,upperdir=%s,workdir=%s /etc" % (upper, wd)

    def etc_bind(self, tag, nsswitch):
        """Only /etc/nsswitch.conf replaced, by a bind mount: glibc stats that
        file on every lookup, and through an overlay the stat costs more than
        it does on a host's own /etc (the peer needs the overlay for its
        extra files; at its milliseconds a lookup that difference is noise)."""
        f = self.work / ("nsswitch-" + tag)
        f.write_text(nsswitch)
        os.chmod(f, 0o644)
        return "mount --bind %s /etc/nsswitch.conf" % f

    def in_ns(self, mount, argv, env=None, timeout=600):
        e = dict(os.environ)
        e.update(env or {})
        cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", mount + ' && exec "$@"', "sh"] + [
            str(a) for a in argv]
        r = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("%s: %s %s" % (argv, r.stdout[-2000:], r.stderr[-2000:]))
        return r.stdout

    def nss_bench(self, mount, kind, names_file, env, seconds=2.0, threads=1, gid=100):
        out = self.in_ns(mount, [self.build / "bench" / "nss_bench", "nss", kind, seconds, threads,
                                 names_file, gid], env)
        f = out.split()
        return dict(zip(f[0::2], [float(x) for x in f[1::2]]))

    def names(self, tag, names):
        p = self.work / ("names-" + tag)
        p.write_text("\n".join(names) + "\n")
        return p


def pgsql_conf(cluster, db):
    """libnss-pgsql2's configuration for Django's tables, mapped the way
    django-authd maps them (uid = 200000 + id, gid = 200000 + group id,
    primary group 100, gecos "first last", home /home/NAME)."""
    pw = ("SELECT username, 'x', trim(first_name || ' ' || last_name), '/home/' || username, '/bin/bash',"
          " %d + id, 100 FROM auth_user" % UID_BASE)
    members = ("ARRAY(SELECT u.username FROM auth_user_groups ug JOIN auth_user u ON u.id = ug.user_id"
               " WHERE ug.group_id = g.id AND u.is_active ORDER BY u.username)")
    gr = "SELECT g.name, 'x', %d + g.id, %s AS members FROM auth_group g" % (GID_BASE, members)
    lines = {
        "connectionstring": "host=%s port=%d dbname=%s user=django password=%s connect_timeout=1"
                            % (cluster.sock, cluster.port, db, fixtures_db.DJANGO_PASSWORD),
        "getpwnam": pw + " WHERE username = $1",
        "getpwuid": pw + " WHERE id = $1::bigint - %d" % UID_BASE,
        "allusers": pw,
        "getgrnam": gr + " WHERE g.name = $1",
        "getgrgid": gr + " WHERE g.id = $1::bigint - %d" % GID_BASE,
        "allgroups": gr,
        "getgroupmembersbygid": "SELECT u.username FROM auth_user_groups ug JOIN auth_user u ON u.id = ug.user_id"
                                " WHERE ug.group_id = $1::bigint - %d AND u.is_active" % GID_BASE,
        "groups_dyn": "SELECT %d + ug.group_id FROM auth_user u JOIN auth_user_groups ug ON ug.user_id = u.id"
                      " WHERE u.username = $1 AND u.is_active AND %d + ug.group_id <> $2::bigint"
                      % (GID_BASE, GID_BASE),
        "shadowconnectionstring": "host=%s port=%d dbname=%s user=django password=%s connect_timeout=1"
                                  % (cluster.sock, cluster.port, db, fixtures_db.DJANGO_PASSWORD),
        "shadowbyname": "SELECT username, 'x', 0, 0, 99999, 7, -1, -1, 0 FROM auth_user WHERE username = $1",
        "shadow": "SELECT username, 'x', 0, 0, 99999, 7, -1, -1, 0 FROM auth_user",
    }
    return "".join("%s = %s\n" % kv for kv in lines.items())


OURS = "passwd: django\ngroup: django\nshadow: files\n"
PEER = "passwd: pgsql\ngroup: pgsql\nshadow: files\n"


def mode_nss(b):
    """Section 2: in-process lookups, ours warm and cold, libnss-pgsql2."""
    db = b.database(users=1000, groups=100, per_user=2)
    users = b.names("users", ["u%d" % i for i in range(1, 1001)])
    groups = b.names("groups", ["g%d" % i for i in range(2, 101)])
    kinds = [("getgrnam", "gr", groups), ("getpwnam", "pw", users), ("getgrouplist", "gl", users)]
    only = os.environ.get("BENCH_KINDS")
    if only:
        kinds = [k for k in kinds if k[1] in only.split(",")]
    peer_env = {"LD_LIBRARY_PATH": "/lib"}
    peer_mount = b.etc_overlay("peer", PEER, pgsql_db=db)
    ours_mount = b.etc_bind("ours", OURS)
    for what, kind, names in kinds:
        r = b.nss_bench(peer_mount, kind, names, peer_env)
        assert r["errors"] == 0, "libnss-pgsql2 failed lookups: %s" % r
        b.put("peer_%s_per_s" % kind, "%.0f" % r["per_s"])
        b.put("peer_%s_p99_us" % kind, "%.1f" % r["p99_us"])
    with b.daemon(db, "warm") as d:
        env = {"LD_LIBRARY_PATH": str(b.build), "DJANGO_AUTH_SOCKET": str(d.socket)}
        for what, kind, names in kinds:
            b.nss_bench(ours_mount, kind, names, env, seconds=0)   # fill the cache
            r = b.nss_bench(ours_mount, kind, names, env)
            assert r["errors"] == 0, r
            b.put("warm_%s_per_s" % kind, "%.0f" % r["per_s"])
            b.put("warm_%s_p50_us" % kind, "%.2f" % r["p50_us"])
            b.put("warm_%s_p99_us" % kind, "%.2f" % r["p99_us"])
            if kind == "gr":
                # The module alone, and what glibc does before it: the time
                # glibc adds to any module's lookup starts with this stat.
                for k in ("dgr", "nsstat"):
                    r = b.nss_bench(ours_mount, k, names, env)
                    b.put("warm_%s_per_s" % k, "%.0f" % r["per_s"])
                    b.put("warm_%s_p50_us" % k, "%.2f" % r["p50_us"])
                    b.put("warm_%s_p99_us" % k, "%.2f" % r["p99_us"])
            r = b.nss_bench(ours_mount, kind, names, dict(env, DJANGO_AUTH_NSS_SHARED_CACHE="0"))
            b.put("sock_%s_per_s" % kind, "%.0f" % r["per_s"])
            b.put("sock_%s_p99_us" % kind, "%.1f" % r["p99_us"])
    with b.daemon(db, "cold", cache=False) as d:
        env = {"LD_LIBRARY_PATH": str(b.build), "DJANGO_AUTH_SOCKET": str(d.socket)}
        for what, kind, names in kinds:
            r = b.nss_bench(ours_mount, kind, names, env)
            assert r["errors"] == 0, r
            b.put("cold_%s_per_s" % kind, "%.0f" % r["per_s"])
            b.put("cold_%s_p99_us" % kind, "%.1f" % r["p99_us"])


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
        cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c",
               mount + " && /usr/bin/time -f 'maxrss %M' getent passwd > /dev/null"]
        r = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=1200)
        b.put("enum_client_maxrss_kib", r.stderr.split("maxrss")[-1].strip())
        cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c",
               mount + " && /usr/bin/time -f 'maxrss %M' getent passwd u1 > /dev/null"]
        r = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=60)
        b.put("one_client_maxrss_kib", r.stderr.split("maxrss")[-1].strip())


def django_iterations():
    """pbkdf2_sha256's default count in the installed Django."""
    return int(subprocess.run(
        ["/usr/bin/python3", "-c", "from django.contrib.auth.hashers import PBKDF2PasswordHasher as H;"
         " print(H.iterations)"], capture_output=True, text=True, check=True).stdout)


# Section 5. The daemon on one core (one event loop, one lookup and one
# authentication thread), then on two (two workers of each) with one event
# loop and with two (the default on two CPUs): (tag, its cores, the load
# generator's cores for throughput, for latency, event loops, workers). For
# throughput the generator runs on the other core while the daemon has one,
# and has to share both when it has two (its CPU is measured and reported). For latency it shares
# the daemon's cores: its load is light there, and across cores every
# request would wake an idle core, which on a virtual machine can take
# milliseconds, measured instead of the daemon.
MIX_CONFIGS = (("c1", "0", "1", "0", 1, 1), ("c2", "0,1", "0,1", "0,1", 1, 2), ("c2l", "0,1", "0,1", "0,1", 2, 2))
# What each round runs, for each configuration: (label, lookup clients, login
# clients, seconds, nss_bench options). Each client makes one connection a
# request, as the modules do; "keep" sends every request of a client on one
# connection instead. "alone" and "beside" hold the lookups to a steady 2,000
# a second, which the daemon serves with room to spare, so their latency is
# the service's and not a queue's: without logins, then beside 8 clients
# logging in. Runs with logins last long enough for logins slowed down by
# lookups to complete.
MIX_RUNS = (("lookups", 64, 0, 2, []), ("keep", 64, 0, 2, ["keep"]), ("logins", 0, 64, 2, []),
            ("mixed", 56, 8, 4, []), ("alone", 56, 0, 4, ["rate=2000"]), ("beside", 56, 8, 4, ["rate=2000"]))


def cpu_seconds(stat_path):
    f = open(stat_path).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")   # utime + stime


def loop_cpu_seconds(pid):
    """CPU time of the daemon's event loops: its main thread and the
    threads named authd-loop."""
    total = 0.0
    for tid in os.listdir("/proc/%d/task" % pid):
        t = "/proc/%d/task/%s/" % (pid, tid)
        try:
            if int(tid) == pid or open(t + "comm").read().strip() == "authd-loop":
                total += cpu_seconds(t + "stat")
        except OSError:
            pass
    return total


def mix_run(b, d, client_cpus, names, seconds, look, login, options=()):
    """One nss_bench mix run; adds the cores the daemon used (all its threads,
    and its event-loop threads alone) to its "key value" answer."""
    argv = ["taskset", "-c", client_cpus, b.build / "bench" / "nss_bench", "mix", seconds, look, login, names,
            PASSWORD] + list(options)
    pid = d.proc.pid
    proc0, loop0 = cpu_seconds("/proc/%d/stat" % pid), loop_cpu_seconds(pid)
    out = subprocess.run([str(a) for a in argv], env=dict(os.environ, DJANGO_AUTH_SOCKET=str(d.socket)),
                         capture_output=True, text=True, check=True).stdout.split()
    proc1, loop1 = cpu_seconds("/proc/%d/stat" % pid), loop_cpu_seconds(pid)
    r = dict(zip(out[0::2], [float(x) for x in out[1::2]]))
    assert r["errors"] == 0, r
    r["daemon_cpu"] = (proc1 - proc0) / seconds
    r["loop_cpu"] = (loop1 - loop0) / seconds
    if r["lookups_per_s"] > 0:   # what a lookup costs the daemon, in CPU µs
        r["lookup_cpu_us"] = r["daemon_cpu"] / r["lookups_per_s"] * 1e6
    return r


def mode_mix(b):
    """Section 5: 64 clients mixing lookups and logins, with the daemon on
    one core then two; lookup latency alone and beside logins. Rounds
    alternate between the configurations; each figure is the median of its
    rounds."""
    hash_ = subprocess.run([str(b.build / "django-authctl"), "make-hash", "--iterations", str(django_iterations())],
                           input=PASSWORD, text=True, capture_output=True, check=True).stdout.strip()
    db = b.database(users=2000, groups=100, per_user=2, hash_=hash_)
    names = b.names("mix", ["u%d" % i for i in range(1, 2001)])
    rounds = int(os.environ.get("BENCH_MIX_ROUNDS", "3"))
    daemons, results = {}, {}
    try:
        for tag, cpus, client_cpus, _, loops, threads in MIX_CONFIGS:
            # Logins keep the stored hash; the cache outlives the runs.
            d = Daemon(b.build, b.work / ("mix" + tag), b.cluster.db_section(db),
                       passwords={"rehash_on_login": False, "update_last_login": False},
                       cache={"positive_ttl": 3600, "negative_ttl": 3600},
                       daemon={"event_threads": loops, "lookup_threads": threads, "auth_threads": threads})
            daemons[tag] = d.start()
            subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(d.proc.pid)], check=True, capture_output=True)
            mix_run(b, d, client_cpus, names, 1, 64, 0)   # every user looked up once: the cache is warm
        for _ in range(rounds):
            for label, look, login, seconds, options in MIX_RUNS:
                for tag, cpus, client_cpus, paced_cpus, _, _ in MIX_CONFIGS:
                    paced = any(o.startswith("rate=") for o in options)
                    r = mix_run(b, daemons[tag], paced_cpus if paced else client_cpus, names, seconds, look, login,
                                options)
                    log("  %s %s: %s" % (tag, label, " ".join("%s %.4g" % kv for kv in sorted(r.items()))))
                    for k, v in r.items():
                        results.setdefault("%s_%s_%s" % (tag, label, k), []).append(v)
    finally:
        for d in daemons.values():
            rc = d.stop()
            d.cleanup()
            assert rc == 0, "django-authd exited %s:\n%s" % (rc, d.log_text())
    b.put("mix_rounds", rounds)
    for k, vs in sorted(results.items()):
        vs.sort()
        m = vs[len(vs) // 2] if len(vs) % 2 else (vs[len(vs) // 2 - 1] + vs[len(vs) // 2]) / 2
        b.put(k, "%.2f" % m if k.endswith("_cpu") else "%.1f" % m if m < 100 else "%.0f" % m)


APACHE_MODULES = ["mpm_event", "authn_core", "authz_core", "authz_user", "auth_basic", "mime"]


def apache_conf(b, tag, port, extra_modules, location):
    d = b.work / ("apache-" + tag)
    (d / "htdocs").mkdir(parents=True, exist_ok=True)
    (d / "htdocs" / "index.html").write_text("ok\n")
    os.chmod(d, 0o755)
    mods = "".join("LoadModule %s_module /usr/lib/apache2/modules/mod_%s.so\n" % (m, m)
                   for m in APACHE_MODULES + extra_modules)
    conf = d / "httpd.conf"
    conf.write_text(mods + """ServerRoot %(d)s
ServerName localhost
Listen 127.0.0.1:%(port)d
PidFile %(d)s/httpd.pid
ErrorLog %(d)s/error.log
LogLevel warn
User www-data
Group www-data
TypesConfig /etc/mime.types

StartServers 2
ServerLimit 4
ThreadsPerChild 32
MaxRequestWorkers 128
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
DocumentRoot %(d)s/htdocs
<Directory %(d)s/htdocs>
    Require all granted
</Directory>
%(location)s
""" % {"d": d, "port": port, "location": location})
    return d, conf


def run_apache(b, d, conf, mount, users_passwords):
    """Starts Apache in a namespace, runs wrk for each (label, user, password,
    seconds). Returns {label: (requests per second, requests completed)}."""
    port = int([l for l in conf.read_text().splitlines() if l.startswith("Listen")][0].rsplit(":", 1)[1])
    pidfile = d / "httpd.pid"
    if pidfile.exists():
        pidfile.unlink()
    e = dict(os.environ)
    proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c",
                             mount + " && exec /usr/sbin/apache2 -f %s -DFOREGROUND" % conf], env=e)
    import base64
    import urllib.error
    import urllib.request
    results = {}
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/index.html" % port, timeout=60)
            except urllib.error.HTTPError as err:
                if err.code == 401:
                    break
            except OSError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError("apache did not start: %s" % (d / "error.log").read_text()[-2000:])
            time.sleep(0.2)
        for label, user, password, seconds in users_passwords:
            auth = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
            req = urllib.request.Request("http://127.0.0.1:%d/index.html" % port, headers={"Authorization": auth})
            try:
                urllib.request.urlopen(req, timeout=60)
            except urllib.error.HTTPError as err:
                raise RuntimeError("%s: %s\n%s" % (label, err, (d / "error.log").read_text()[-3000:]))
            out = subprocess.run(["wrk", "-t2", "-c8", "-d%ds" % seconds, "--timeout", "30s", "-H",
                                  "Authorization: " + auth, "http://127.0.0.1:%d/index.html" % port],
                                 capture_output=True, text=True, check=True).stdout
            if "Non-2xx" in out:
                raise RuntimeError("wrk saw failures: " + out)
            rps = float([l for l in out.splitlines() if l.startswith("Requests/sec:")][0].split()[1])
            done = int([l for l in out.splitlines() if " requests in " in l][0].split()[0])
            results[label] = (rps, done)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return results


# Section 3's hashes: (label, pbkdf2_sha256 iterations, wrk seconds for ours,
# for Django). wrk counts only the requests that complete before it stops
# (with 8 connections, up to 8 are cut off), so slow hashes run long enough
# for many to complete: at 1,200,000 Django completes about 2 a second.
APACHE_CURRENT_DJANGO = 1200000


def apache_rows(default_iter):
    rows = [("default", default_iter), ("i1200000", APACHE_CURRENT_DJANGO), ("i1000", 1000)]
    if default_iter == APACHE_CURRENT_DJANGO:
        del rows[1]
    return [(label, it) + ((8, 8) if it < 500000 else (10, 40)) for label, it in rows]


def mode_apache(b):
    """Section 3: Apache Basic auth, mod_authnz_pam + pam_django against
    mod_wsgi + Django's modwsgi.check_password, the same user, the same stored
    hash, the same PostgreSQL database. Three hashes: pbkdf2_sha256 at the
    installed Django's default count, at current Django's 1,200,000, and at
    1,000 iterations (Django configured for the same count each time, or its
    check_password would re-hash the password at its default count on the
    first login)."""
    ctl = str(b.build / "django-authctl")
    default_iter = django_iterations()
    rows = apache_rows(default_iter)
    hashes = {}
    for label, it, _, _ in rows:
        hashes[label] = subprocess.run([ctl, "make-hash", "--iterations", str(it)], input=PASSWORD, text=True,
                                       capture_output=True, check=True).stdout.strip()
    db = b.database(users=100, groups=10, per_user=1, hash_=hashes["default"])
    b.put("apache_iterations_default", default_iter)

    def set_hash(label):
        b.cluster.psql("UPDATE auth_user SET password = '%s' WHERE username = 'u1'" % hashes[label], db=db)

    ours, peer = {}, {}
    with b.daemon(db, "apache") as dm:
        pamd_mount = b.etc_overlay("apache-ours", "passwd: files\ngroup: files\nshadow: files\n")
        upper = b.work / "etc-apache-ours" / "upper"
        (upper / "pam.d").mkdir(exist_ok=True)
        # Apache's workers (www-data) load the module: a copy they can read.
        pam_so = b.work / "pam_django.so"
        shutil.copy2(b.build / "pam_django.so", pam_so)
        os.chmod(pam_so, 0o644)
        (upper / "pam.d" / "djbench").write_text(
            "auth required %s socket=%s\naccount required %s socket=%s\n" % (pam_so, dm.socket, pam_so, dm.socket))
        d, conf = apache_conf(b, "ours", fixtures_db.free_port(), ["authnz_pam"], """<Location /index.html>
    AuthType Basic
    AuthName bench
    AuthBasicProvider PAM
    AuthPAMService djbench
    Require valid-user
</Location>""")
        for label, _, seconds, _ in rows:
            set_hash(label)
            ours.update(run_apache(b, d, conf, pamd_mount, [(label, "u1", PASSWORD, seconds)]))
    env = b.cluster.env(db)
    for label, it, _, seconds in rows:
        set_hash(label)
        script = b.work / ("auth-%s.wsgi" % label)
        script.write_text("import os, sys\n" + "".join(
            "os.environ[%r] = %r\n" % (k, v) for k, v in env.items()
            if k.startswith("DJ_") or k in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")) +
            "sys.path[:0] = os.environ['PYTHONPATH'].split(':')\n"
            "import django\ndjango.setup()\n"
            "from django.contrib.auth.hashers import PBKDF2PasswordHasher\n"
            "PBKDF2PasswordHasher.iterations = %d\n"
            "from django.contrib.auth.handlers.modwsgi import check_password, groups_for_user\n" % it)
        os.chmod(script, 0o644)
        d, conf = apache_conf(b, "django-" + label, fixtures_db.free_port(), ["wsgi"], """WSGIDestroyInterpreter Off
<Location /index.html>
    WSGIAuthUserScript %s application-group=%%{GLOBAL}
    AuthType Basic
    AuthName bench
    AuthBasicProvider wsgi
    Require valid-user
</Location>""" % script)
        peer.update(run_apache(b, d, conf, "true", [(label, "u1", PASSWORD, seconds)]))
        out = b.cluster.psql("SELECT password FROM auth_user WHERE username = 'u1'", db=db)
        assert hashes[label] in out, "Django re-hashed the password: %s" % out
    if default_iter == APACHE_CURRENT_DJANGO:   # a Django whose default is 1,200,000 already
        rows.insert(1, ("i1200000",) + rows[0][1:])
        ours["i1200000"], peer["i1200000"] = ours["default"], peer["default"]
    for label, _, ours_s, peer_s in rows:
        b.put("apache_ours_%s_rps" % label, "%.1f" % ours[label][0])
        b.put("apache_django_%s_rps" % label, "%.1f" % peer[label][0])
        b.put("apache_ours_%s_requests" % label, ours[label][1])
        b.put("apache_django_%s_requests" % label, peer[label][1])
        b.put("apache_ours_%s_seconds" % label, ours_s)
        b.put("apache_django_%s_seconds" % label, peer_s)


def main():
    build, mode, out = sys.argv[1], sys.argv[2], sys.argv[3]
    b = Bench(build, out)
    try:
        if mode == "nss":
            mode_nss(b)
        elif mode == "scale":
            sizes = [int(x) for x in os.environ.get("BENCH_SCALE", "1000,100000,1000000").split(",")]
            mode_scale(b, sizes)
        elif mode == "mix":
            mode_mix(b)
        elif mode == "apache":
            mode_apache(b)
        else:
            raise SystemExit("unknown mode " + mode)
    finally:
        b.close()


if __name__ == "__main__":
    main()
