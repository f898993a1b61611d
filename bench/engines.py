#!/usr/bin/python3
"""make bench, section 8: the same lookups against each database engine.
Run as root with Debian's python3 (bench/run does):

    bench/engines.py BUILD OUT

The same Django site (migrated by Django, 1,000 users, 100 groups, every user
in 2 groups, written with Django's bulk_create, then ANALYZE) in SQLite, PostgreSQL 15 (a
private cluster) and MariaDB (a private server, engine = mysql through the
plugin), each on its local socket. A daemon with its cache off answers every
lookup from the database; bench/nss_bench drives getpwnam, getgrnam and
getgrouplist through glibc (one thread, 2 s). Rounds alternate between the
engines; the median of the rounds goes to OUT as "key value" lines."""
import os
import pathlib
import statistics
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import lookups  # noqa: E402  (also puts tests/integration on the path)

FILL = r'''
import django, sys
django.setup()
from django.contrib.auth.models import Group, User
from django.core.management import call_command
call_command("migrate", verbosity=0)
n_users, n_groups = int(sys.argv[1]), int(sys.argv[2])
Group.objects.bulk_create([Group(name="g%d" % i) for i in range(1, n_groups + 1)])
User.objects.bulk_create([User(username="u%d" % i, password="pbkdf2_sha256$1000$salt$x", first_name="First%d" % i,
                               last_name="Last", is_active=True) for i in range(1, n_users + 1)], batch_size=500)
users = {u.username: u.id for u in User.objects.all()}
groups = {g.name: g.id for g in Group.objects.all()}
Through = User.groups.through
rows = set()
for i in range(1, n_users + 1):
    for k in range(2):
        rows.add((users["u%d" % i], groups["g%d" % (2 + (i * (7 + k * 6) + k * 13) % (n_groups - 1))]))
Through.objects.bulk_create([Through(user_id=u, group_id=g) for u, g in sorted(rows)], batch_size=1000)
# Planner statistics, as a site's database has them.
from django.db import connection
with connection.cursor() as c:
    c.execute("ANALYZE TABLE auth_user, auth_group, auth_user_groups" if connection.vendor == "mysql" else "ANALYZE")
'''

ENGINES = ["sqlite", "pg", "mysql"]
KINDS = [("getpwnam", "pw"), ("getgrnam", "gr"), ("getgrouplist", "gl")]
USERS, GROUPS = 1000, 100


def main():
    build, out = sys.argv[1], sys.argv[2]
    b = lookups.Bench(build, out)
    import conftest
    import fixtures_mysql
    from fixtures_daemon import Daemon
    my = fixtures_mysql.MariaDB()
    try:
        b.cluster.createdb("engines")
        my.createdb("engines")
        sqlite_path = b.work / "engines.sqlite3"
        sites = {
            "sqlite": (dict(engine="sqlite3", name=str(sqlite_path)),
                       conftest.django_env(db_engine="sqlite3", db_name=sqlite_path)),
            "pg": (b.cluster.db_section("engines"), b.cluster.env("engines")),
            "mysql": (my.db_section("engines"), my.env("engines")),
        }
        for engine, (_, env) in sites.items():
            subprocess.run(["/usr/bin/python3", "-c", FILL, str(USERS), str(GROUPS)], env=env, check=True,
                           timeout=600)
        os.chmod(sqlite_path, 0o644)
        names = {"pw": b.names("users", ["u%d" % i for i in range(1, USERS + 1)]),
                 "gr": b.names("groups", ["g%d" % i for i in range(2, GROUPS + 1)])}
        names["gl"] = names["pw"]
        mount = b.etc_bind("engines", lookups.OURS)
        rounds = int(os.environ.get("BENCH_ENGINE_ROUNDS", "3"))
        got = {}
        for r in range(rounds):
            for engine in ENGINES[r % 3:] + ENGINES[:r % 3]:
                section = sites[engine][0]
                with Daemon(b.build, b.work / ("%s-%d" % (engine, r)), section,
                            cache={"positive_ttl": 0, "negative_ttl": 0},
                            passwords={"rehash_on_login": False, "update_last_login": False}) as d:
                    env = {"LD_LIBRARY_PATH": str(b.build), "DJANGO_AUTH_SOCKET": str(d.socket)}
                    for what, kind in KINDS:
                        res = b.nss_bench(mount, kind, names[kind], env)
                        assert res["errors"] == 0, (engine, what, res)
                        got.setdefault((engine, kind, "per_s"), []).append(res["per_s"])
                        got.setdefault((engine, kind, "p99_us"), []).append(res["p99_us"])
        for (engine, kind, what), values in sorted(got.items()):
            fmt = "%.0f" if what == "per_s" else "%.1f"
            b.put("%s_%s_%s" % (engine, kind, what), fmt % statistics.median(values))
        b.put("engine_rounds", rounds)
        b.put("engine_load_avg", "%.1f" % os.getloadavg()[0])   # other work on the machine shows here
        b.put("mariadb_version", my.sql("SELECT VERSION()").strip().split("-")[0])
    finally:
        my.destroy()
        b.close()


if __name__ == "__main__":
    main()
