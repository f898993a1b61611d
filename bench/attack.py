#!/usr/bin/python3
"""django-authd under attack by unprivileged local users (make bench, section
6): how long root's logins and uncached lookups take to be answered (median,
each on a new connection as the modules make them) while other uids drip
bytes into many connections, storm the socket with connections, or flood it
with requests they may not make; and how many log lines a second such a
flood of refusals costs. Run as root with Debian's python3:

    /usr/bin/python3 bench/attack.py BUILD_DIR OUT [--binary DAEMON] [--seconds 8]

OUT receives "key value" lines; --binary measures another daemon (an older
build) with the same configuration and attackers."""
import argparse
import pathlib
import shutil
import statistics
import sys
import tempfile
import time

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests" / "integration"))

import djproto  # noqa: E402
import fixtures_db  # noqa: E402
from attackers import DRIP, FLOOD, STORM, result, root_beside, spawn  # noqa: E402
from fixtures_daemon import Daemon  # noqa: E402


def users_of(pop, n=8):
    return [u for u in pop.spec["users"] if u["username"].startswith("user") and u["hasher"] == "pbkdf2_sha256"
            and pop.expected["users"][u["username"]]["right"] is True][:n]


def under(d, users, attackers):
    """Root's lookups and logins while `attackers` run."""
    time.sleep(1.5)  # let the attack build up
    root, _ = root_beside(d, users, attackers)
    # Answered at all, and answered right (a lookup its entry, a login Ok,
    # not Throttled or Unavailable): root.errors holds the failures.
    answered = len(root.login_s) + len(root.lookup_s)
    tried = answered + sum(1 for e in root.errors if e[0] == "exception")
    wrong = sum(1 for e in root.errors if e[0] != "exception")
    ms = lambda xs: "%.1f" % (1000 * statistics.median(xs)) if xs else "-"  # noqa: E731
    pct = lambda a, b: "%.0f" % (100.0 * a / b) if b else "-"  # noqa: E731
    return {"lookup_p50_ms": ms(root.lookup_s), "login_p50_ms": ms(root.login_s),
            "answered_pct": pct(answered, tried), "right_pct": pct(answered - wrong, tried),
            "tried": tried}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("out")
    ap.add_argument("--binary")
    ap.add_argument("--seconds", type=float, default=8)
    args = ap.parse_args()
    build = pathlib.Path(args.build).resolve()
    binary = pathlib.Path(args.binary).resolve() if args.binary else None
    work = pathlib.Path(tempfile.mkdtemp(prefix="djauth-attack-"))
    out = {}
    try:
        (work / "pop").mkdir()
        pop = fixtures_db.make_sqlite_population(work / "pop")
        users = users_of(pop)
        drip = djproto.frame("PwByName", djproto._str("user001")).hex()
        deny = djproto.frame("Authenticate", b"".join(djproto._str(x) for x in ("user001", "guess", "sshd", ""))).hex()
        secs = args.seconds
        run = secs + 1.5

        def daemon(name):
            # Default limits; the cache off so that every lookup is a query.
            return Daemon(build, work / name, pop.db_section, pop, binary=binary,
                          cache={"positive_ttl": 0, "negative_ttl": 0})

        scenarios = {
            # No attack: a process that only waits, as long as the others run.
            "quiet": lambda d: [spawn("nobody", "import sys, time; time.sleep(float(sys.argv[1])); print('{}')", run)],
            # One uid, 1,100 connections, one byte of a request each second.
            "drip": lambda d: [spawn("nobody", DRIP, d.socket, 1100, run, drip, 1.0)],
            # Four uids connecting and closing as fast as they can, two more dripping.
            "storm": lambda d: [spawn(63001 + i, STORM, d.socket, run) for i in range(4)]
            + [spawn(63010 + i, DRIP, d.socket, 600, run, drip, 1.0) for i in range(2)],
            # nobody: 4 x 128 Authenticate requests in flight, which it may not make
            # (more than max_pending_auth).
            "authflood": lambda d: [spawn("nobody", FLOOD, d.socket, 128, run, deny) for _ in range(4)],
        }
        for name, make in scenarios.items():
            with daemon(name) as d:
                for k, v in under(d, users, make(d)).items():
                    out["%s_%s" % (name, k)] = v
                print(name, {k: v for k, v in out.items() if k.startswith(name)}, file=sys.stderr)

        # Log lines a second under a flood of refusals (the log is the
        # daemon's standard error, as in the foreground or the journal).
        with daemon("logflood") as d:
            before = len(d.log_text().splitlines())
            t = time.monotonic()
            r = result(spawn("nobody", FLOOD, d.socket, 16, secs, deny))
            refused = sum(r["counts"].values())
            lines_flood = len(d.log_text().splitlines()) - before
            time.sleep(6)  # the window ends: its summary
            lines_all = len(d.log_text().splitlines()) - before
            elapsed = time.monotonic() - t
            out.update(logflood_refusals_per_s="%.0f" % (refused / secs), logflood_lines=lines_all,
                       logflood_lines_during=lines_flood, logflood_lines_per_s="%.1f" % (lines_flood / secs),
                       logflood_seconds="%.0f" % secs, logflood_elapsed="%.0f" % elapsed)
            print("logflood", r, lines_flood, lines_all, file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out["attack_seconds"] = "%.0f" % args.seconds
    with open(args.out, "a") as f:
        for k, v in out.items():
            f.write("%s %s\n" % (k, v))


if __name__ == "__main__":
    main()
