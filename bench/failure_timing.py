#!/usr/bin/python3
"""How long each kind of failed login takes, against the wrong password
(CVE-2024-39329's class: the time must not tell an unknown user, an inactive
one, an unusable password or a user the [access] rule leaves out from a
wrong password). Run as root with
Debian's python3:

    DJ_BUILD=build /usr/bin/python3 bench/failure_timing.py OUT [--rounds N]

A Django-migrated SQLite database with four users; django-authd with
pbkdf2_sha256 preferred at 100,000 and at 200,000 iterations; N rounds of
one attempt per kind, in a rotating order; per kind, the median over the
rounds of its time over the wrong password's in the same round. Writes "key
value" lines to OUT: timing_<iterations>_<kind> (that ratio), and
timing_<iterations>_wrong_ms (the wrong password's median)."""
import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests" / "integration"))
os.environ.setdefault("DJ_TOP", str(TOP))

import conftest  # noqa: E402
from fixtures_daemon import Daemon  # noqa: E402
from test_attack_disclosure import ACCESS, measure_failures, timing_database  # noqa: E402

KEYS = {"unknown user": "unknown", "inactive user": "inactive", "unusable '!' password": "unusable",
        "outdated hash, wrong password": "outdated", "left out by [access]": "access",
        "wrong password": "wrong"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--rounds", type=int, default=25)
    args = ap.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="djauth-timing-"))
    try:
        src = work / "site.sqlite3"
        env = conftest.django_env(db_engine="sqlite3", db_name=src)
        subprocess.run(["/usr/bin/python3", "-c",
                        "import django; django.setup();"
                        "from django.core.management import call_command; call_command('migrate', verbosity=0);"
                        "from django.contrib.auth.models import User;"
                        "[User.objects.create_user('user%03d' % i, password='pw') for i in range(1, 5)]"],
                       env=env, check=True)
        lines = []
        for iterations in (100000, 200000):
            db = work / ("timing-%d.sqlite3" % iterations)
            names = timing_database(src, db, iterations)
            with Daemon(conftest.BUILD, work / ("d%d" % iterations), {"engine": "sqlite3", "name": str(db)},
                        passwords={"hashers": "pbkdf2_sha256, pbkdf2_sha1", "pbkdf2_iterations": iterations},
                        access=ACCESS) as d:
                ratios, wrong = measure_failures(d, names, args.rounds)
            lines.append("timing_%d_wrong_ms %.2f" % (iterations, wrong * 1000))
            for kind, key in KEYS.items():
                lines.append("timing_%d_%s %.3f" % (iterations, key, ratios[kind]))
        lines.append("timing_rounds %d" % args.rounds)
        pathlib.Path(args.out).write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
