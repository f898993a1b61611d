"""Faults the daemon must ride out, beyond test_daemon_faults.py: a SQLite
file locked by a writer, on a read-only mount, or replaced by rename; a
PostgreSQL backend killed in the middle of a query; a two-host conninfo whose
first host is down; the daemon itself killed (SIGKILL) and restarted under
clients (protocol, PAM, NSS). Each time: the documented status, a log line,
nothing past its bound, and never a wrong answer."""
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time

import pytest

import djproto
from conftest import BUILD, SANITIZE
from fixtures_daemon import Daemon
from fixtures_db import free_port
from nss_harness import NssRunner
from pam_util import ServiceDir, harness

AUTH = {"Ok": True, "WrongPassword": False, "NoUser": None}


def good_users(pop, n):
    out = [u for u in pop.spec["users"] if u["username"].startswith("user")
           and u["hasher"] in ("pbkdf2_sha256", "pbkdf2_sha1") and pop.expected["users"][u["username"]]["right"]]
    return out[:n]


@pytest.fixture
def own_db(sqlite_population, tmp_path):
    """A private copy of the SQLite population (these tests change it)."""
    d = tmp_path / "db"
    d.mkdir()
    path = d / "db.sqlite3"
    shutil.copyfile(sqlite_population.db_section["name"], path)
    return path


# --- SQLite -------------------------------------------------------------------------------

def test_sqlite_locked_by_writer(sqlite_population, own_db, tmp_path):
    pop = sqlite_population
    a, b = good_users(pop, 2)
    with Daemon(BUILD, tmp_path / "d", {"engine": "sqlite3", "name": str(own_db), "query_timeout": 1}, pop,
                cache={"positive_ttl": 0, "negative_ttl": 0}) as d:
        writer = sqlite3.connect(str(own_db), isolation_level=None, timeout=0)
        assert writer.execute("PRAGMA journal_mode").fetchone()[0] != "wal"
        writer.execute("BEGIN EXCLUSIVE")
        try:
            with d.client(timeout=10) as c:
                for call in (lambda: c.authenticate(a["username"], a["password"]),
                             lambda: c.authenticate(a["username"], "wrong"),
                             lambda: c.pw_by_name(b["username"]),
                             lambda: c.groups_of_user(b["username"])):
                    t = time.time()
                    assert call() == "Unavailable"
                    assert time.time() - t < 1 + 1.5   # the busy timeout, not more
            assert d.alive()
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        # The busy timeout opened the breaker; its probe closes it.
        assert d.wait_database()
        with d.client() as c:
            assert c.authenticate(a["username"], a["password"]) == "Ok"
            assert c.authenticate(a["username"], "wrong") == "WrongPassword"
        assert "database unavailable" in d.log_text()


def test_sqlite_read_only_mount(sqlite_population, own_db, tmp_path):
    """The database on a read-only mount: lookups and password checks go on;
    the optional writes (last_login, rehash) fail with a log line and do not
    undo the login; a password change is refused as unavailable."""
    pop = sqlite_population
    (a,) = good_users(pop, 1)
    wrapper = tmp_path / "authd-ro"
    wrapper.write_text("#!/bin/sh\nmount --bind -o ro '%s' '%s' || exit 97\nexec '%s' \"$@\"\n"
                       % (own_db.parent, own_db.parent, BUILD / "django-authd"))
    wrapper.chmod(0o755)
    # unshare -m: the read-only mount exists for the daemon only.
    launcher = tmp_path / "authd"
    launcher.write_text("#!/bin/sh\nexec unshare -m --propagation private '%s' \"$@\"\n" % wrapper)
    launcher.chmod(0o755)
    with Daemon(BUILD, tmp_path / "d", {"engine": "sqlite3", "name": str(own_db)}, pop, binary=launcher,
                passwords={"update_last_login": True, "allow_change": True}) as d:
        with d.client() as c:
            assert c.authenticate(a["username"], a["password"]) == "Ok"
            assert c.authenticate(a["username"], "wrong") == "WrongPassword"
            assert c.pw_by_name(a["username"])["name"] == a["username"]
            assert c.change_password(a["username"], a["password"], "Brand-New-1") == "Unavailable"
            assert c.authenticate(a["username"], a["password"]) == "Ok"   # unchanged
            assert c.authenticate(a["username"], "Brand-New-1") == "WrongPassword"
        log = d.log_text()
        assert "last_login of user=%s not updated" % a["username"] in log
        assert "readonly" in log or "read-only" in log
    # Nothing was written.
    con = sqlite3.connect(str(own_db))
    assert con.execute("select last_login from auth_user where username = ?", (a["username"],)).fetchone()[0] is None
    con.close()


def test_sqlite_replaced_by_rename(sqlite_population, own_db, tmp_path):
    """Deployments replace the file (a copy moved over it): the daemon reopens
    a connection whose file's inode changed, so it never answers from the old
    file. Lookups are cached for positive_ttl, or until a flush."""
    pop = sqlite_population
    a, b = good_users(pop, 2)
    with Daemon(BUILD, tmp_path / "d", {"engine": "sqlite3", "name": str(own_db)}, pop) as d:
        with d.client() as c:
            assert c.authenticate(a["username"], a["password"]) == "Ok"
            assert c.gr_by_name("auditors") != "NotFound"
        new = own_db.parent / "new.sqlite3"
        shutil.copyfile(own_db, new)
        con = sqlite3.connect(str(new))
        hash_b = con.execute("select password from auth_user where username = ?", (b["username"],)).fetchone()[0]
        con.execute("update auth_user set password = ? where username = ?", (hash_b, a["username"]))
        gid = con.execute("select id from auth_group where name = 'auditors'").fetchone()[0]
        con.execute("delete from auth_user_groups where group_id = ?", (gid,))
        con.execute("delete from auth_group_permissions where group_id = ?", (gid,))
        con.execute("delete from auth_group where id = ?", (gid,))
        con.commit()
        con.close()
        os.rename(new, own_db)
        with d.client() as c:
            # a's password is now b's: the old one is wrong at once.
            assert c.authenticate(a["username"], a["password"]) == "WrongPassword"
            assert c.authenticate(a["username"], b["password"]) == "Ok"
            assert c.flush() == "Ok"
            assert c.gr_by_name("auditors") == "NotFound"   # no stale group after a flush
        assert "the file was replaced; reopening" in d.log_text()


# --- PostgreSQL -----------------------------------------------------------------------------

def test_postgres_backend_killed_mid_query(pg_population, pg_cluster, tmp_path):
    """The backend serving the daemon is terminated while its query waits on a
    lock: that request is Unavailable (in time, with a log line); the next one
    gets a new connection and the right answer."""
    import psycopg2

    pop = pg_population
    (a,) = good_users(pop, 1)
    admin = psycopg2.connect(host=str(pg_cluster.sock), port=pg_cluster.port, dbname="postgres", user="postgres")
    admin.autocommit = True
    locker = psycopg2.connect(host=str(pg_cluster.sock), port=pg_cluster.port, dbname="site", user="django",
                              password=pop.db_section["password"])
    with Daemon(BUILD, tmp_path / "d", dict(pop.db_section, query_timeout=2), pop,
                cache={"positive_ttl": 0, "negative_ttl": 0}) as d:
        with d.client(timeout=15) as c:
            assert c.pw_by_name("user001")["name"] == "user001"
            cur = locker.cursor()
            cur.execute("LOCK TABLE auth_user IN ACCESS EXCLUSIVE MODE")
            result = {}
            t = threading.Thread(target=lambda: result.update(
                st=c.authenticate(a["username"], a["password"]), at=time.time()))
            start = time.time()
            t.start()
            try:
                deadline = time.time() + 4
                killed = 0
                while time.time() < deadline and not killed:
                    time.sleep(0.1)
                    acur = admin.cursor()
                    acur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE application_name = 'django-authd' AND wait_event_type = 'Lock'")
                    killed = len(acur.fetchall())
                assert killed, "no daemon backend waited on the lock"
                t.join(timeout=10)
            finally:
                locker.rollback()
            assert result["st"] == "Unavailable"
            # A broken connection is retried once on a new one, which waits
            # on the lock again until the statement timeout (2 s).
            assert result["at"] - start < 2 * 2 + 1.5
            # The timeout opened the breaker; its probe closes it.
            assert d.wait_database()
            assert c.authenticate(a["username"], a["password"]) == "Ok"
            assert c.authenticate(a["username"], "wrong") == "WrongPassword"
        assert "database unavailable" in d.log_text()
        assert d.alive()
    locker.close()
    admin.close()


def test_postgres_two_hosts_first_down(pg_population, pg_cluster, tmp_path):
    pop = pg_population
    a, b = good_users(pop, 2)
    dead = free_port()
    section = dict(pop.db_section, host="127.0.0.1,127.0.0.1", port="%d,%d" % (dead, pg_cluster.port))
    with Daemon(BUILD, tmp_path / "d", section, pop) as d:
        with d.client() as c:
            t = time.time()
            assert c.authenticate(a["username"], a["password"]) == "Ok"
            assert c.authenticate(b["username"], "wrong") == "WrongPassword"
            assert c.pw_by_name(b["username"])["name"] == b["username"]
            assert time.time() - t < 3
        assert pop.db_section["password"] not in d.log_text()


# --- the daemon killed under its clients ----------------------------------------------------

def test_daemon_sigkill_and_restart_under_clients(sqlite_population, tmp_path):
    pop = sqlite_population
    a, b = good_users(pop, 2)
    d = Daemon(BUILD, tmp_path / "d", pop.db_section, pop)
    d.start()
    try:
        stop = threading.Event()
        outcomes = []   # (status or exception name, seconds)

        def client_loop(i):
            while not stop.is_set():
                t = time.time()
                try:
                    with d.client(timeout=3) as c:
                        st = c.authenticate(a["username"], a["password"]) if i % 2 else c.pw_by_name(b["username"])
                        st = st if isinstance(st, str) else "Ok"
                except (OSError, djproto.ProtocolError) as e:
                    st = type(e).__name__
                outcomes.append((st, time.time() - t))
                time.sleep(0.01)

        threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        killed_at = len(outcomes)
        # While it is down: PAM and NSS fail within their timeouts.
        svc = ServiceDir()
        name = svc.simple("web", d.socket)
        t = time.time()
        out = harness(svc.path, name, [(a["username"], a["password"])], ops="auth")
        assert out[0]["auth"] == "PAM_AUTHINFO_UNAVAIL"
        assert time.time() - t < 2 + 3
        ns = NssRunner(BUILD, d.socket, sanitize=SANITIZE)
        t = time.time()
        p = ns.getent("passwd", b["username"])
        # Not found (unavailable), or the right entry from the shared cache.
        assert p.returncode == 2 or p.stdout.startswith(b["username"] + ":x:"), p
        assert time.time() - t < 10
        time.sleep(0.3)
        d._log.close()
        d.start()
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads)
        # Nobody waited past the client timeout; no wrong answer ever.
        assert all(sec < 3 + 1 for _, sec in outcomes), max(s for _, s in outcomes)
        assert {st for st, _ in outcomes} <= {"Ok", "ConnectionRefusedError", "ConnectionResetError",
                                              "FileNotFoundError", "BrokenPipeError", "ProtocolError",
                                              "TimeoutError", "timeout", "OSError"}, outcomes
        assert any(st == "Ok" for st, _ in outcomes[killed_at:]), "no success after the restart"
        # And now everything works again, through every client.
        out = harness(svc.path, name, [(a["username"], a["password"]), (a["username"], "wrong")], ops="auth")
        assert [o["auth"] for o in out] == ["PAM_SUCCESS", "PAM_AUTH_ERR"]
        p = ns.getent("passwd", b["username"])
        assert p.returncode == 0 and p.stdout.startswith(b["username"] + ":")
    finally:
        rc = d.stop()
        d.cleanup()
    assert rc == 0
