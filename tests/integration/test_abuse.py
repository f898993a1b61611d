"""Abuse of django-authd: brute force (the [throttle] section: per user, per
client, bounded memory, django-authctl throttle/reset, PAM_MAXTRIES through
the real module), hostile names through the raw protocol, PAM and NSS, and
what debug logging writes (never a password, never a hash)."""
import socket
import sqlite3
import struct
import subprocess
import time

import pytest

import djproto
from conftest import BUILD, SANITIZE
from fixtures_daemon import Daemon, run_as_nobody
from nss_harness import NssRunner
from pam_util import ServiceDir, harness

AUTHCTL = BUILD / "django-authctl"


def authctl(d, *args):
    return subprocess.run([str(AUTHCTL), *args, "--socket", str(d.socket)], capture_output=True, text=True,
                          timeout=30)


def active_users(pop, n, hasher=("pbkdf2_sha256", "pbkdf2_sha1")):
    out = [u for u in pop.spec["users"] if u["username"].startswith("user") and u["hasher"] in hasher
           and pop.expected["users"][u["username"]]["right"] is True]
    assert len(out) >= n
    return out[:n]


@pytest.fixture
def throttled(sqlite_population, tmp_path):
    d = Daemon(BUILD, tmp_path / "authd", sqlite_population.db_section, sqlite_population,
               throttle={"deny": 3, "client_deny": 6, "fail_interval": 60, "unlock_time": 3, "max_entries": 40})
    with d:
        yield d


# --- brute force ------------------------------------------------------------------------

def test_user_locked_after_deny_failures_others_unaffected(throttled):
    d = throttled
    a, b = active_users(d.db, 2)
    with d.client() as c:
        for _ in range(3):
            assert c.authenticate(a["username"], "wrong-guess") == "WrongPassword"
        # Locked: even the right password is refused, without a password check.
        before = int(c.stats()["auth_failed"])
        t0 = time.monotonic()
        assert c.authenticate(a["username"], a["password"]) == "Throttled"
        assert time.monotonic() - t0 < 0.5
        assert int(c.stats()["throttled"]) >= 1 and int(c.stats()["auth_failed"]) == before + 1
        # Another user is not locked, from the same caller.
        assert c.authenticate(b["username"], b["password"]) == "Ok"
        # Lookups are never throttled.
        assert c.pw_by_name(a["username"]) != "NotFound"
    log = d.log_text()
    assert "too many failed logins: user=%s" % a["username"] in log
    assert "authentication refused: user=%s" % a["username"] in log and "locked out for" in log
    # Listed, then cleared by root with django-authctl.
    r = authctl(d, "throttle")
    assert r.returncode == 0, r.stderr
    line = next(l for l in r.stdout.splitlines() if a["username"] in l)
    assert line.split()[0] == "user" and line.split()[2] == "3" and line.split()[3].endswith("s")
    r = authctl(d, "throttle", a["username"])
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 2
    r = authctl(d, "reset", a["username"])
    assert r.returncode == 0 and "reset" in r.stdout, r.stderr
    with d.client() as c:
        assert c.authenticate(a["username"], a["password"]) == "Ok"
    assert "throttle reset: user=%s" % a["username"] in d.log_text()


def test_lock_expires_and_success_clears_count(throttled):
    d = throttled
    (a,) = active_users(d.db, 1)
    with d.client() as c:
        for _ in range(3):
            c.authenticate(a["username"], "nope")
        assert c.authenticate(a["username"], a["password"]) == "Throttled"
        time.sleep(3.5)   # unlock_time = 3
        assert c.authenticate(a["username"], a["password"]) == "Ok"
        # Two failures, a success, two failures: never three in a row counted.
        for _ in range(2):
            c.authenticate(a["username"], "nope")
        assert c.authenticate(a["username"], a["password"]) == "Ok"
        for _ in range(2):
            c.authenticate(a["username"], "nope")
        assert c.authenticate(a["username"], a["password"]) == "Ok"


def test_unknown_users_are_counted_like_known_ones(throttled):
    """So the throttle does not tell who exists."""
    with throttled.client() as c:
        for _ in range(3):
            assert c.authenticate("no-such-person", "x") == "NoUser"
        assert c.authenticate("no-such-person", "x") == "Throttled"


def test_client_locked_across_users_but_not_others(throttled):
    d = throttled
    users = active_users(d.db, 8)
    with d.client() as c:
        # One rhost guessing one password for six users (client_deny = 6).
        for u in users[:6]:
            assert c.authenticate(u["username"], "Summer2024!", "sshd", "203.0.113.66") == "WrongPassword"
        # That rhost is locked: the users who failed from it are refused
        # there, even with the right password, without a password check ...
        t = time.monotonic()
        assert c.authenticate(users[1]["username"], users[1]["password"], "sshd", "203.0.113.66") == "Throttled"
        assert time.monotonic() - t < 0.5
        # ... a user who has not failed from it is checked as usual ...
        assert c.authenticate(users[6]["username"], users[6]["password"], "sshd", "203.0.113.66") == "Ok"
        # ... and the users are not locked: from elsewhere they log in.
        assert c.authenticate(users[0]["username"], users[0]["password"], "sshd", "198.51.100.5") == "Ok"
        assert c.authenticate(users[7]["username"], users[7]["password"]) == "Ok"
    r = authctl(d, "throttle")
    assert "client uid=0 rhost=203.0.113.66" in " ".join(r.stdout.split()), r.stdout
    assert authctl(d, "reset", "--client", "uid=0 rhost=203.0.113.66").returncode == 0
    with d.client() as c:
        assert c.authenticate(users[1]["username"], users[1]["password"], "sshd", "203.0.113.66") == "Ok"


def test_one_address_cannot_lock_everybody_out(sqlite_population, tmp_path):
    """Behind a reverse proxy every web login has rhost 127.0.0.1. A password
    spray from there locks the address as a client, yet a user who has not
    failed logs in at once through the real PAM module, while the sprayed
    users stay refused there and the spray gets one guess per user."""
    pop = sqlite_population
    users = active_users(pop, 30)
    d = Daemon(BUILD, tmp_path / "authd", pop.db_section, pop,
               throttle={"deny": 10, "client_deny": 20, "fail_interval": 900, "unlock_time": 600})
    with d:
        sprayed, clean = users[:25], users[25:]
        with d.client() as c:
            for i in range(60):   # sprayed users and names nobody has
                name = sprayed[i % len(sprayed)]["username"] if i % 3 else "ghost-%02d" % i
                assert c.authenticate(name, "Winter2026!", "web", "127.0.0.1") in ("WrongPassword", "NoUser",
                                                                                 "Throttled")
            st = c.stats()
        assert int(st["throttled"]) > 0
        r = authctl(d, "throttle")
        line = next(l for l in r.stdout.splitlines() if "rhost=127.0.0.1" in l)
        assert line.split()[0] == "client" and line.split()[-1].endswith("s"), r.stdout   # locked
        # Users who have not failed: in at once through PAM, from the same address.
        svc = ServiceDir()
        name = svc.simple("web", d.socket)
        t = time.monotonic()
        out = harness(svc.path, name, [(u["username"], u["password"]) for u in clean], ops="auth",
                      rhost="127.0.0.1")
        assert [o["auth"] for o in out] == ["PAM_SUCCESS"] * len(clean)
        assert time.monotonic() - t < 2 + 0.5 * len(clean)
        # The sprayed users are refused there, right password or not, with no
        # password check; a second guess never reaches the hash.
        before = int(d.client().stats()["auth_failed"])
        out = harness(svc.path, name, [(u["username"], u["password"]) for u in sprayed[:5]] +
                      [(u["username"], "Spring2026!") for u in sprayed[5:10]], ops="auth", rhost="127.0.0.1")
        assert [o["auth"] for o in out] == ["PAM_MAXTRIES"] * 10
        # From their own address they still log in (deny = 10 not reached).
        out = harness(svc.path, name, [(u["username"], u["password"]) for u in sprayed[:3]], ops="auth",
                      rhost="198.51.100.7")
        assert [o["auth"] for o in out] == ["PAM_SUCCESS"] * 3
        with d.client() as c:
            assert int(c.stats()["auth_failed"]) == before + 10
    log = d.log_text()
    for u in sprayed[:10]:
        assert "authentication refused: user=%s service=web rhost=127.0.0.1 uid=0: client locked out for" % (
            u["username"]) in log, u["username"]


def test_spellings_share_one_count(sqlite_population, tmp_path):
    """A case-insensitive collation finds one user under many spellings: they
    all count against that user, so no spelling gets a fresh count."""
    pop = sqlite_population
    (a,) = active_users(pop, 1)
    db = tmp_path / "ci.sqlite3"
    src = sqlite3.connect(pop.db_section["name"])
    src.backup(dst := sqlite3.connect(db))
    src.close()
    ddl = dst.execute("select sql from sqlite_master where name = 'auth_user'").fetchone()[0]
    ddl = ddl.replace('"auth_user"', '"ci_user"', 1).replace('"username" varchar(150) NOT NULL UNIQUE',
                                                             '"username" varchar(150) NOT NULL UNIQUE COLLATE NOCASE')
    assert "COLLATE NOCASE" in ddl, ddl
    dst.execute(ddl)
    dst.execute("insert into ci_user select * from auth_user")
    dst.commit()
    assert dst.execute("select count(*) from ci_user where username = ?",
                       (a["username"].upper(),)).fetchone()[0] == 1
    dst.close()
    d = Daemon(BUILD, tmp_path / "authd", {"engine": "sqlite3", "name": str(db)}, pop,
               schema={"user_table": "ci_user"},
               throttle={"deny": 3, "client_deny": 0, "fail_interval": 60, "unlock_time": 60})
    with d:
        name = a["username"]
        spellings = [name, name.upper(), name.capitalize()]
        with d.client() as c:
            assert c.authenticate(name.upper(), a["password"]) == "Ok"   # the collation at work
            for s in spellings:
                assert c.authenticate(s, "wrong") == "WrongPassword"
            for s in spellings + [name.swapcase()[:1] + name[1:].upper()]:
                t = time.monotonic()
                assert c.authenticate(s, a["password"]) == "Throttled", s
                assert time.monotonic() - t < 0.5
        r = authctl(d, "throttle")
        line = next(l for l in r.stdout.splitlines() if l.split()[0] == "user")
        assert line.split()[1] == name and line.split()[2] == "3", r.stdout
        r = authctl(d, "reset", name.upper())
        assert r.returncode == 0, r.stderr
        with d.client() as c:
            assert c.authenticate(name.capitalize(), a["password"]) == "Ok"


def test_lockouts_survive_a_flood_of_names(throttled):
    """max_entries = 40: thousands of fresh names from many addresses do not
    push out an active lockout."""
    d = throttled
    victims = active_users(d.db, 3)
    with d.client() as c:
        for v in victims:
            for _ in range(3):
                assert c.authenticate(v["username"], "bad") == "WrongPassword"
        for i in range(1500):
            c.authenticate("flood-%05d" % i, "x", "sshd", "192.0.2.%d" % (i % 200))
        # 40 each for users, names nobody has, and clients
        assert int(c.stats()["throttle_entries"]) <= 3 * 40
        for v in victims:
            assert c.authenticate(v["username"], v["password"]) == "Throttled", v["username"]


def test_flood_cannot_reset_a_real_users_count(throttled):
    """Made-up names from many addresses push out only their own kind: a
    real user's failures before the flood still count after it."""
    d = throttled
    (v,) = active_users(d.db, 1)
    with d.client() as c:
        for _ in range(2):
            assert c.authenticate(v["username"], "bad") == "WrongPassword"
        for i in range(300):
            c.authenticate("flood-%05d" % i, "x", "sshd", "198.51.100.%d" % (i % 250))
        assert c.authenticate(v["username"], "bad") == "WrongPassword"
        assert c.authenticate(v["username"], v["password"]) == "Throttled"


def test_root_without_rhost_is_not_a_client(throttled):
    """su/login run as root for every local user: one user's failures there
    must not lock the others out."""
    users = active_users(throttled.db, 9)
    with throttled.client() as c:
        for u in users[:8]:
            assert c.authenticate(u["username"], "bad") == "WrongPassword"
        assert c.authenticate(users[8]["username"], users[8]["password"]) == "Ok"


def test_hammering_one_user_does_not_lock_out_others(throttled):
    users = active_users(throttled.db, 3)
    with throttled.client() as c:
        for _ in range(50):
            c.authenticate(users[0]["username"], "guess", "sshd", "")
        for u in users[1:]:
            assert c.authenticate(u["username"], u["password"]) == "Ok"


def test_table_is_bounded(throttled):
    with throttled.client() as c:
        for i in range(300):
            c.authenticate("ghost-%04d" % i, "x", "sshd", "192.0.2.%d" % (i % 250))
        # max_entries = 40 each for users, names nobody has, and clients
        assert int(c.stats()["throttle_entries"]) <= 3 * 40


def test_throttle_ops_are_root_only(throttled):
    r = run_as_nobody(throttled.socket, '''
print(call(32, s("")), call(33, s("user") + s("user001")))
''')
    assert r.returncode == 0, r.stderr
    assert [int(x) for x in r.stdout.split()] == [djproto.STATUS["Denied"]] * 2
    r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", str(AUTHCTL),
                        "reset", "user001", "--socket", str(throttled.socket)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "caller not allowed" in r.stderr


def test_pam_gets_maxtries(throttled):
    d = throttled
    (a,) = active_users(d.db, 1)
    svc = ServiceDir()
    name = svc.simple("web", d.socket)
    reqs = [(a["username"], "wrong-%d" % i) for i in range(3)] + [(a["username"], a["password"])]
    out = harness(svc.path, name, reqs, ops="auth", rhost="192.0.2.44")
    assert [o["auth"] for o in out] == ["PAM_AUTH_ERR"] * 3 + ["PAM_MAXTRIES"]


# --- hostile names -------------------------------------------------------------------------

HOSTILE = ["' OR '1'='1", "user001'; DROP TABLE auth_user; --", "user001\" OR 1=1 --", "%", "_", "user0%",
           "*", "\\", "user001\\", "+", "-", "+user001", "-user001", "+@devs", "\u00ff\u00fe", "a" * 8192,
           "user001\n", "\tuser001", "user001 ", "../../etc/passwd", "$(id)", "`id`"]


def test_hostile_names_raw_protocol(daemon_sqlite):
    d = daemon_sqlite
    with d.client() as c:
        for n in HOSTILE:
            assert c.pw_by_name(n) == "NotFound", n
            assert c.gr_by_name(n) == "NotFound", n
            assert c.groups_of_user(n) == "NotFound", n
            assert c.authenticate(n, "' OR '1'='1") == "NoUser", n
            assert c.account(n)[0] == "NoUser", n
        # Invalid UTF-8, raw bytes.
        for raw in (b"\xff\xfe", b"user\xc3", b"\xc0\xaf", b"\xed\xa0\x80"):
            assert c.pw_by_name(raw) == "NotFound"
            assert c.authenticate(raw, b"\xff") == "NoUser"
        # A string past kMaxString inside a frame under kMaxRequest: refused.
        _, st, _ = c.raw(djproto.frame("PwByName", djproto._str("a" * 9000)))
        assert st == djproto.STATUS["BadRequest"]
        assert c.pw_by_name("user001")["uid"] == 200001
    # A 1 MB name: past kMaxRequest, the connection is closed unread.
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(d.socket))
    body = bytes([2, 10, 0, 0]) + struct.pack(">I", 1 << 20) + b"a" * (1 << 20)
    try:
        s.sendall(struct.pack(">I", len(body)) + body)
    except OSError:
        pass
    s.settimeout(5)
    try:
        assert s.recv(10) == b""
    except ConnectionResetError:
        pass
    s.close()
    # The database still holds every user (nothing was dropped) and answers.
    con = sqlite3.connect(d.db.db_section["name"])
    assert con.execute("select count(*) from auth_user").fetchone()[0] == len(d.db.spec["users"])
    con.close()
    with d.client() as c:
        assert c.pw_by_name("user001")["uid"] == 200001
    assert d.alive()


def test_hostile_names_through_pam(daemon_sqlite):
    svc = ServiceDir()
    name = svc.simple("web", daemon_sqlite.socket)
    names = [n for n in HOSTILE if "\n" not in n and "\t" not in n and len(n) < 1000]
    out = harness(svc.path, name, [(n, "' OR '1'='1") for n in names], ops="auth")
    for n, o in zip(names, out):
        assert o["auth"] in ("PAM_USER_UNKNOWN", "PAM_AUTH_ERR"), (n, o)
    assert daemon_sqlite.alive()


@pytest.fixture
def sns(daemon_sqlite):
    return NssRunner(BUILD, daemon_sqlite.socket, sanitize=SANITIZE)


def test_hostile_names_through_getent(sns):
    for n in ["' OR '1'='1", "+", "-user001", "+user001", "user0%", "a" * 5000, "\u00ff", "user001 "]:
        p = sns.getent("passwd", "--", n)
        assert p.returncode == 2 and p.stdout == "", (n, p)
        p = sns.getent("group", "--", n)
        assert p.returncode == 2 and p.stdout == "", (n, p)
        p = sns.getent("initgroups", "--", n)
        # No group at all (getent prints the name it was given, then gids).
        assert not any(tok.isdigit() for tok in p.stdout.split()), (n, p)
    assert sns.getent("passwd", "user001").returncode == 0


# --- what the logs say ------------------------------------------------------------------------

def test_debug_log_has_no_password_or_hash(sqlite_population, tmp_path):
    pop = sqlite_population
    users = active_users(pop, 3)
    con = sqlite3.connect(pop.db_section["name"])
    hashes = {u["username"]: con.execute("select password from auth_user where username = ?",
                                         (u["username"],)).fetchone()[0] for u in users}
    con.close()
    d = Daemon(BUILD, tmp_path / "authd", pop.db_section, pop, daemon={"debug": True},
               throttle={"deny": 2, "client_deny": 0}, passwords={"allow_change": False})
    with d:
        with d.client() as c:
            for u in users:
                assert c.authenticate(u["username"], u["password"], "sshd", "192.0.2.1") == "Ok"
                c.authenticate(u["username"], "Wrong-" + u["password"])
                c.authenticate(u["username"], "Wrong2-" + u["password"])
                c.authenticate(u["username"], u["password"])   # throttled now
                c.change_password(u["username"], u["password"], "N3w-" + u["password"])
                c.pw_by_name(u["username"])
            c.authenticate("hash-as-name", hashes[users[0]["username"]][:40])
    log = d.log_text()
    assert "request authenticate from uid 0" in log   # debug lines are there
    for u in users:
        for secret in (u["password"], "Wrong-" + u["password"], "N3w-" + u["password"], hashes[u["username"]]):
            assert secret not in log
        salt_and_hash = hashes[u["username"]].split("$", 2)[-1]
        assert salt_and_hash not in log
        for part in hashes[u["username"]].split("$")[2:]:
            if len(part) >= 8:
                assert part not in log


# --- crowds of idle connections ------------------------------------------------------------------

def test_crowd_of_idle_connections_does_not_lock_out_lookups(sqlite_population, tmp_path):
    """1,100 idle connections against the default max_connections (1024): at
    the limit the daemon closes the connection idle the longest rather than
    refusing the new one, so lookups and logins are still answered at once."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    pop = sqlite_population
    (a,) = active_users(pop, 1)
    idle = []
    try:
        # The daemon starts with the usual soft limit and raises it itself.
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 1024), hard))
        with Daemon(BUILD, tmp_path / "d", pop.db_section, pop) as d:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
            with d.client(timeout=5) as c:
                assert c.authenticate(a["username"], a["password"]) == "Ok"
            time.sleep(0.5)
            baseline = d.open_fds()
            for _ in range(1100):
                s = socket.socket(socket.AF_UNIX)
                s.connect(str(d.socket))
                idle.append(s)
            time.sleep(0.5)
            t = time.time()
            by_id = {e["id"]: n for n, e in pop.expected["users"].items() if e["id"]}
            for i in range(1, 30):
                with d.client(timeout=5) as c:
                    r = c.pw_by_uid(200000 + i)
                    if i in by_id:
                        assert isinstance(r, dict) and r["name"] == by_id[i], (i, r)
                    else:
                        assert r == "NotFound", (i, r)
            with d.client(timeout=5) as c:
                assert c.authenticate(a["username"], a["password"]) == "Ok"
                assert c.authenticate(a["username"], "nope") == "WrongPassword"
            assert time.time() - t < 10
            # The first idle ones were closed to make room, the newest not.
            idle[0].settimeout(5)
            assert idle[0].recv(1) == b""
            assert "closing the longest idle ones" in d.log_text()
            assert "Too many open files" not in d.log_text()
            for s in idle:
                s.close()
            idle = []
            assert d.settle_fds(baseline) == baseline
    finally:
        for s in idle:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
