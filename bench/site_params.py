#!/usr/bin/python3
"""What a failed login costs a Debian Django 3.2 site (pbkdf2_sha256 at its
260,000 iterations) when [passwords] names no work factor: with the
daemon's library default (1,200,000: every failure is topped up to it by
harden_runtime, an unknown user runs a dummy hash of it) and with the site's
own parameters (read off its stored hashes). Run as root with Debian's
python3 (bench/run does, for section 6.1):

    DJ_BUILD=build /usr/bin/python3 bench/site_params.py OUT [--before OLD_DAEMON] [--rounds N]

--before: a django-authd binary built without the site's parameters (e.g.
from the commit before them); without it, "before" is this daemon with
pbkdf2_iterations = 1200000, which does the same work. Writes "key value"
lines to OUT: site_<before|after>_<right|wrong|unknown>_ms, the median ms
over the socket (of site_rounds attempts), and site_django_wrong_ms, Django 3.2's own check_password
for a wrong password."""
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
from fixtures_daemon import Daemon  # noqa: E402
from test_site_params import make_site  # noqa: E402

DJANGO_WRONG = r'''
import sys, time, statistics, django
django.setup()
from django.contrib.auth.models import User
u = User.objects.get(username="site1")
t = []
for _ in range(int(sys.argv[1])):
    s = time.perf_counter(); assert not u.check_password("pw-1x"); t.append(time.perf_counter() - s)
print("%.1f" % (statistics.median(t) * 1000))
'''


def median_ms(d, rounds):
    out = {}
    with d.client() as c:
        for kind, (user, pw, want) in {"right": ("site1", "pw-1", "Ok"),
                                       "wrong": ("site1", "pw-1x", "WrongPassword"),
                                       "unknown": ("nobody-here", "pw", "NoUser")}.items():
            t = []
            for _ in range(rounds):
                s = time.perf_counter()
                assert c.authenticate(user, pw) == want
                t.append(time.perf_counter() - s)
            out[kind] = statistics.median(t) * 1000
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--before")
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="djauth-site-"))
    try:
        path, env, _ = make_site(work)
        db = {"engine": "sqlite3", "name": str(path)}
        runs = []
        if args.before:
            with Daemon(conftest.BUILD, work / "before", db, binary=pathlib.Path(args.before),
                        passwords={"pbkdf2_iterations": None}) as d:
                runs.append(("before", median_ms(d, args.rounds)))
        else:
            with Daemon(conftest.BUILD, work / "before", db, passwords={"pbkdf2_iterations": 1200000}) as d:
                runs.append(("before", median_ms(d, args.rounds)))
        with Daemon(conftest.BUILD, work / "after", db, passwords={"pbkdf2_iterations": None}) as d:
            runs.append(("after", median_ms(d, args.rounds)))
        django_ms = subprocess.run(["/usr/bin/python3", "-c", DJANGO_WRONG, str(args.rounds)], env=env,
                                   capture_output=True, text=True, check=True).stdout.strip()
        with open(args.out, "w") as out:
            for name, m in runs:
                for kind in ("right", "wrong", "unknown"):
                    out.write("site_%s_%s_ms %.1f\n" % (name, kind, m[kind]))
            out.write("site_django_wrong_ms %s\n" % django_ms)
            out.write("site_rounds %d\n" % args.rounds)

    finally:
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    main()
