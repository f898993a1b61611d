#!/usr/bin/python3
"""How long a change committed by Django takes to show through django-authd
with positive_ttl = 3600 (push invalidation, daemon/invalidation.h). Run as
root with Debian's python3:

    DJ_BUILD=build /usr/bin/python3 bench/push_delay.py OUT [--changes N]

For PostgreSQL (a throwaway cluster, the triggers of `django-authctl
install-triggers --print`) and for SQLite: a Django-migrated site, the
daemon, and one Django process that N times adds a user to a group or
removes it (one transaction each, at a random moment), with the group's
answer cached by the daemon just before, then asks the daemon for the group every millisecond
until the answer shows the change. Delay: from the return of Django's commit
to the first answer that shows it. Writes "key value" lines to OUT:
push_<engine>_median_ms, push_<engine>_max_ms, push_changes."""
import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests" / "integration"))
os.environ.setdefault("DJ_TOP", str(TOP))

import conftest  # noqa: E402
from fixtures_daemon import Daemon, write_config  # noqa: E402
from fixtures_db import DJANGO_PASSWORD, PgCluster  # noqa: E402

CACHE = {"positive_ttl": 3600, "negative_ttl": 3600}

# Run in a Django process: argv = socket, changes. Prints one delay (ms) a line.
MEASURE = r'''
import random, sys, time
import django; django.setup()
from django.contrib.auth.models import Group, User
import djproto
sock, n = sys.argv[1], int(sys.argv[2])
group = Group.objects.get(name="bench")
user = User.objects.get(username="bencher")
with djproto.Client(sock) as c:
    def members():
        g = c.gr_by_name("bench")
        return g if isinstance(g, str) else g["members"]
    for i in range(n):
        before = members()
        assert members() == before            # cached
        # At a random moment: not in step with the SQLite watch's polls.
        time.sleep(random.random() * 0.3)
        if i % 2 == 0:
            user.groups.add(group)            # autocommit: committed on return
        else:
            user.groups.remove(group)
        t0 = time.monotonic()
        while members() == before:
            if time.monotonic() - t0 > 30:
                sys.exit("the change did not show within 30 s")
            time.sleep(0.001)
        print("%.3f" % ((time.monotonic() - t0) * 1000))
'''

SEED = ("import django; django.setup()\n"
        "from django.core.management import call_command; call_command('migrate', verbosity=0)\n"
        "from django.contrib.auth.models import Group, User\n"
        "Group.objects.create(name='bench'); User.objects.create_user('bencher', password='x')\n")


def django(env, code, *args):
    env = dict(env, PYTHONPATH=os.pathsep.join([env["PYTHONPATH"], str(TOP / "tests" / "integration")]))
    r = subprocess.run(["/usr/bin/python3", "-c", code, *args], env=env, capture_output=True, text=True,
                       timeout=600)
    if r.returncode != 0:
        raise RuntimeError(r.stdout + r.stderr)
    return r.stdout


def measure(env, database, work, changes):
    build = pathlib.Path(os.environ.get("DJ_BUILD", TOP / "build")).resolve()
    with Daemon(build, work / "daemon", database, cache=CACHE) as d:
        if database["engine"] == "postgresql":
            deadline = 150
            while "listening on channel" not in d.log_text() and deadline:
                subprocess.run(["sleep", "0.1"])
                deadline -= 1
        out = django(env, MEASURE, str(d.socket), str(changes))
    return [float(x) for x in out.split()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--changes", type=int, default=40)
    args = ap.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="djauth-push-"))
    results = {}
    try:
        path = work / "site.sqlite3"
        env = conftest.django_env(db_engine="sqlite3", db_name=path)
        django(env, SEED)
        results["sqlite"] = measure(env, dict(engine="sqlite3", name=str(path)), work / "sqlite", args.changes)

        pg = PgCluster()
        try:
            pg.createdb("bench")
            env = pg.env("bench")
            django(env, SEED)
            conf = write_config(work / "print.conf", {"database": pg.db_section("bench")})
            build = pathlib.Path(os.environ.get("DJ_BUILD", TOP / "build")).resolve()
            sql = subprocess.run([str(build / "django-authctl"), "install-triggers", "--config", str(conf),
                                  "--print"], capture_output=True, text=True, check=True).stdout
            subprocess.run(["/usr/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(pg.sock), "-p",
                            str(pg.port), "-U", "django", "-d", "bench"], input=sql, text=True, check=True,
                           env=dict(os.environ, PGPASSWORD=DJANGO_PASSWORD), capture_output=True)
            results["pg"] = measure(env, pg.db_section("bench"), work / "pg", args.changes)
        finally:
            pg.destroy()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    with open(args.out, "w") as f:
        f.write("push_changes %d\n" % args.changes)
        for engine, delays in results.items():
            f.write("push_%s_median_ms %.1f\n" % (engine, statistics.median(delays)))
            f.write("push_%s_max_ms %.1f\n" % (engine, max(delays)))
    print(open(args.out).read(), end="")


if __name__ == "__main__":
    main()
