"""The database down (PostgreSQL stopped): lookups answered from what the
daemon last saw, past positive_ttl, through glibc's NSS; logins of users who
logged in online before, through real PAM (pamtester), with [offline]
cache_credentials (daemon/offline_store.h); the throttle as online; the file
0600, the daemon user's, with no password or Django hash in it, kept across
a restart, its records expiring after max_days (the daemon's clock moved on
with libfaketime, no waiting). PostgreSQL back: live answers again, a change
made then seen within the push invalidation's bound, and a user deactivated
online loses the record."""
import os
import pathlib
import shutil
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import BUILD, SANITIZE
from fixtures_daemon import Daemon
from nss_harness import NssRunner
from pam_util import STRERROR, ServiceDir, pamtester
from sysarch import LIBDIR
from test_push_invalidation import (DEADLINE, TRIGGERS_SQL, django, eventually, print_sql, psql_as_owner,
                                    wait_log)
from fixtures_daemon import write_config

TTL = 2
FAKETIME = LIBDIR + "/faketime/libfaketimeMT.so.1"
AUTHCTL = BUILD / "django-authctl"
PASSWORDS = {"alice": "alice-Offline-1", "bob": "bob-Offline-2", "carol": "carol-Offline-3",
             "dave": "dave-Offline-4"}

SEED = """
from django.contrib.auth.models import Group, User
ops = Group.objects.create(name="ops")
devs = Group.objects.create(name="devs")
for name, pw in %r.items():
    u = User.objects.create_user(name, password=pw)
    u.groups.add(ops)
User.objects.get(username="dave").groups.add(devs)
""" % (PASSWORDS,)


@pytest.fixture(scope="module")
def site(pg_cluster):
    pg_cluster.createdb("offline")
    env = pg_cluster.env("offline")
    django(env, "from django.core.management import call_command\ncall_command('migrate', verbosity=0)\n" + SEED)
    d = pathlib.Path(tempfile.mkdtemp(prefix="djauth-offline-conf-"))
    config = write_config(d / "print.conf", {"database": pg_cluster.db_section("offline")})
    psql_as_owner(pg_cluster, "offline", print_sql(config, "install-triggers"))
    assert psql_as_owner(pg_cluster, "offline", TRIGGERS_SQL).split() == ["8", "1"]
    shutil.rmtree(d)
    return env


@pytest.fixture
def daemon(site, pg_cluster, tmp_path):
    # The daemon runs as nobody: the directory of its file is made (0700,
    # nobody's) by the daemon itself, under one every user may traverse.
    state = pathlib.Path(tempfile.mkdtemp(prefix="djauth-offline-"))
    os.chmod(state, 0o755)
    d = Daemon(BUILD, tmp_path / "authd", pg_cluster.db_section("offline"),
               daemon={"user": "nobody", "auth_clients": "www-data"},
               cache={"positive_ttl": TTL, "negative_ttl": 1},
               throttle={"deny": 3, "unlock_time": 600},
               offline={"cache_credentials": True, "max_days": 3,
                        "file": str(state / "private" / "offline-credentials")})
    d.offline_file = state / "private" / "offline-credentials"
    d.start()
    wait_log(d, "listening on channel django_auth")
    yield d
    pg_cluster.start() if not pg_up(pg_cluster) else None
    d.stop()
    d.cleanup()
    shutil.rmtree(state, ignore_errors=True)


def pg_up(pg):
    r = subprocess.run(["runuser", "-u", "postgres", "--", "/usr/bin/pg_isready", "-q", "-h", str(pg.sock), "-p",
                        str(pg.port)], timeout=30)
    return r.returncode == 0


def login(svc, user, password, ops=("authenticate", "acct_mgmt")):
    p = pamtester(svc.path, "offline-svc", user, password, ops=ops)
    return "ok" if p.returncode == 0 else p.stderr + p.stdout


def stats(d):
    with d.client() as c:
        return c.stats()


def status(d):
    r = subprocess.run([str(AUTHCTL), "status", "--socket", str(d.socket)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def nss_lines(ns):
    out = {}
    for db, key in (("passwd", "alice"), ("passwd", "dave"), ("group", "ops"), ("group", "devs")):
        p = ns.getent(db, key)
        out[(db, key)] = p.stdout.strip() if p.returncode == 0 else "absent"
    p = ns.run(["id", "alice"])
    out["id"] = p.stdout.strip() if p.returncode == 0 else "absent"
    return out


def test_outage(daemon, pg_cluster, site):
    d = daemon
    svc = ServiceDir()
    svc.simple("offline-svc", d.socket)
    ns = NssRunner(BUILD, d.socket, sanitize=SANITIZE, nsswitch="passwd: files django\ngroup: files django\n")

    # Online: answers seen, logins kept.
    before = nss_lines(ns)
    assert "absent" not in before.values(), before
    assert "alice" in before[("group", "ops")] and "ops" in before["id"]
    for user in ("alice", "bob", "dave"):
        assert login(svc, user, PASSWORDS[user]) == "ok"
    s = stats(d)
    assert s["offline_credentials"] == "yes" and s["offline_records"] == "3", s
    out = status(d)
    assert "\nonline: 3 offline credential records\n" in out, out

    # The file: nobody's, 0600, in a 0700 directory of nobody's; no secret in it.
    nobody = int(subprocess.run(["id", "-u", "nobody"], capture_output=True, text=True).stdout)
    st = os.stat(d.offline_file)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == nobody
    st = os.stat(d.offline_file.parent)
    assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == nobody
    data = d.offline_file.read_bytes()
    hashes = pg_cluster.psql("SELECT password FROM auth_user", db="offline").split()
    hashes = [h for h in hashes if "$" in h]
    assert len(hashes) == 4
    for secret in list(PASSWORDS.values()) + hashes + [h.split("$")[2] for h in hashes] + \
            [h.split("$")[3] for h in hashes]:
        assert secret.encode() not in data, secret

    pg_cluster.stop()
    try:
        time.sleep(TTL + 0.5)   # every cached answer is past its lifetime
        # Lookups: what was seen, through NSS (the shared file's records have
        # expired: the daemon answers them).
        assert nss_lines(ns) == before
        assert nss_lines(ns) == before
        s = stats(d)
        assert s["database_available"] == "no" and int(s["stale_answers"]) >= 5, s
        # One log line for the outage, not one per lookup.
        assert d.log_text().count("answered from stale cached entries") == 1, d.log_text()
        # Logins: who logged in online before, with that password.
        assert login(svc, "alice", PASSWORDS["alice"]) == "ok"
        assert STRERROR["PAM_AUTHINFO_UNAVAIL"] in login(svc, "carol", PASSWORDS["carol"])
        assert STRERROR["PAM_AUTH_ERR"] in login(svc, "alice", "not-her-password")
        # The throttle counts offline failures too: bob locked after 3.
        for _ in range(3):
            assert STRERROR["PAM_AUTH_ERR"] in login(svc, "bob", "wrong")
        assert login(svc, "bob", PASSWORDS["bob"]) != "ok"
        assert "locked out" in d.log_text()
        out = status(d)
        assert "database: unavailable since " in out and "\noffline since " in out, out
        assert ": 3 offline credential records\n" in out, out
        assert "authenticated offline" in d.log_text()

        # A restart keeps the records (the cache is gone: lookups unavailable).
        d.restart()
        assert login(svc, "alice", PASSWORDS["alice"]) == "ok"
        assert stats(d)["offline_records"] == "3"
    finally:
        pg_cluster.start()
    assert d.wait_database()
    wait_log(d, "listening on channel django_auth")

    # Back: live answers. Changes made now are seen within the push bound.
    django(site, "from django.contrib.auth.models import Group, User\n"
                 "User.objects.get(username='alice').groups.remove(Group.objects.get(name='ops'))\n"
                 "u = User.objects.get(username='dave'); u.is_active = False; u.save()\n")
    got = eventually(lambda: "alice" in nss_lines(ns)[("group", "ops")], False, deadline=DEADLINE + TTL)
    assert got is False
    assert "dave" not in nss_lines(ns)[("group", "devs")]
    # dave, seen inactive by that lookup, has no offline record any more.
    with d.client() as c:
        c.pw_by_name("dave")
    assert eventually(lambda: stats(d)["offline_records"], "2") == "2"
    pg_cluster.stop()
    try:
        assert STRERROR["PAM_AUTHINFO_UNAVAIL"] in login(svc, "dave", PASSWORDS["dave"])
        assert login(svc, "alice", PASSWORDS["alice"], ops=("authenticate",)) == "ok"
    finally:
        pg_cluster.start()
    assert d.wait_database()
    # Passwords and hashes never reach the log.
    log = d.log_text()
    for secret in list(PASSWORDS.values()) + hashes:
        assert secret not in log


def clock_moved(d, days):
    """Restarts the daemon with its clock `days` ahead (libfaketime)."""
    d.stop()
    d.extra_env = {"LD_PRELOAD": FAKETIME, "FAKETIME": "+%dd" % days, "DONT_FAKE_MONOTONIC": "1"}
    if SANITIZE:
        d.extra_env["ASAN_OPTIONS"] = "detect_leaks=1:halt_on_error=1:verify_asan_link_order=0"
    d.start()


def test_records_expire_after_max_days(daemon, pg_cluster):
    d = daemon
    svc = ServiceDir()
    svc.simple("offline-svc", d.socket)
    assert login(svc, "bob", PASSWORDS["bob"], ops=("authenticate",)) == "ok"
    assert stats(d)["offline_records"] == "1"
    pg_cluster.stop()
    try:
        clock_moved(d, 2)   # within max_days = 3
        assert login(svc, "bob", PASSWORDS["bob"], ops=("authenticate",)) == "ok"
        clock_moved(d, 4)   # past it: dropped at startup, from the file too
        assert stats(d)["offline_records"] == "0"
        assert STRERROR["PAM_AUTHINFO_UNAVAIL"] in login(svc, "bob", PASSWORDS["bob"], ops=("authenticate",))
        clock_moved(d, 0)
        assert stats(d)["offline_records"] == "0"
    finally:
        pg_cluster.start()
        d.extra_env = {}
