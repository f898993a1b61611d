#!/usr/bin/python3
"""What the lookup benchmarks of make bench share (bench/nss_lookups.py,
scale.py, concurrency.py, apache.py; bench/run runs each as

    bench/SCRIPT.py BUILD OUT

as root with Debian's python3): each starts its own PostgreSQL cluster
(tests/integration/fixtures_db), migrates a Django database, fills it with
SQL, starts django-authd over it, and writes "key value" lines to OUT for
bench/run to tabulate.

Lookups run in a private mount namespace whose /etc is an overlay holding
the benchmark's nsswitch.conf (and, for the peer, /etc/nss-pgsql.conf and
/etc/nss-pgsql-root.conf with queries over the same Django tables), so the
host's files are never touched."""
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests" / "integration"))
os.environ.setdefault("DJ_TOP", str(TOP))

# The test helpers read DJ_BUILD when imported: the build named first on the
# command line.
if len(sys.argv) > 1:
    os.environ["DJ_BUILD"] = str(pathlib.Path(sys.argv[1]).resolve())

import fixtures_db  # noqa: E402
from fixtures_daemon import Daemon  # noqa: E402
from mountns import private_argv  # noqa: E402

UID_BASE = 200000
GID_BASE = 200000
PASSWORD = "bench-password"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, build, out):
        self.build = pathlib.Path(build).resolve()
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
        r = subprocess.run(private_argv(argv, mount), env=e, capture_output=True, text=True, timeout=timeout)
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


def django_iterations():
    """pbkdf2_sha256's default count in the installed Django."""
    return int(subprocess.run(
        ["/usr/bin/python3", "-c", "from django.contrib.auth.hashers import PBKDF2PasswordHasher as H;"
         " print(H.iterations)"], capture_output=True, text=True, check=True).stdout)


def main(measure):
    """bench/SCRIPT.py BUILD OUT: measure(Bench) with its cluster removed
    afterwards."""
    build, out = sys.argv[1], sys.argv[2]
    b = Bench(build, out)
    try:
        measure(b)
    finally:
        b.close()
