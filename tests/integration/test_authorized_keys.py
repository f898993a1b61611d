"""AuthorizedKeys (django-authctl authorized-keys, sshd's AuthorizedKeysCommand)
against a real daemon over SQLite, PostgreSQL and MariaDB, with keys written by real
Django into django-sshkey's table (tests/django/django_sshkey):

- the keys of a user who may log in through sshd, each a checked line;
  stored texts that smuggle a second line, carry a control character, an
  unknown type, bad base64 or an option [ssh] allowed_options leaves out are
  dropped and logged by user id and reason, never by their text;
- inactive users, users [access] sshd leaves out, names the host uses: none;
- root and [ssh] clients (nobody by default) may ask, others are Denied;
- off until [ssh] authorized_keys = yes; another app's table through [schema]
  key_* (active and expiry columns);
- a removed key is gone once the change is seen, without a flush (SQLite:
  the daemon's watcher; PostgreSQL: the key table's NOTIFY trigger of
  install-triggers);
- the CLI: nothing on stdout but keys, exit 1 when the daemon cannot answer.

The CLI's printing of keys needs the host to resolve the name to the Django
user (NSS): test_e2e_sshd_keys.py logs in with a key through a real sshd."""
import json
import subprocess
import time

import pytest

from conftest import BUILD, django_env
from fakedaemon import FakeDaemon, Last
from fixtures_daemon import Daemon, run_as, write_config
import djproto

HERE = __import__("pathlib").Path(__file__).resolve().parent
ACCESS = {"default": "", "sshd": "ssh-users"}
SSH = {"authorized_keys": True, "allowed_options": "no-agent-forwarding, from="}


def keygen(tmp, kind, name):
    path = tmp / name
    args = ["ssh-keygen", "-q", "-N", "", "-C", name, "-f", str(path), "-t"] + kind.split()
    subprocess.run(args, check=True, capture_output=True)
    return path.with_suffix(".pub").read_text().strip()


@pytest.fixture(scope="module")
def pubkeys(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("keys")
    return {n: keygen(tmp, kind, n) for n, kind in [("ed", "ed25519"), ("ec", "ecdsa -b 384"),
                                                      ("rsa", "rsa -b 2048"), ("other", "ed25519")]}


class Site:
    def __init__(self, engine, env, db_section, workdir):
        self.engine, self.env, self.db_section, self.workdir = engine, env, db_section, workdir

    def run(self, *args):
        r = subprocess.run(["/usr/bin/python3", str(HERE / "sshkeys_seed.py"), *args], env=self.env,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr

    def keys(self, **by_user):
        self.run("keys", json.dumps(by_user))

    def sql(self, *statements):
        self.run("sql", json.dumps([[s, list(p)] for s, p in statements]))

    def daemon(self, name, **sections):
        return Daemon(BUILD, self.workdir / name, self.db_section, **sections)


@pytest.fixture(scope="module", params=["sqlite3", pytest.param("postgresql", marks=pytest.mark.postgres),
                                        pytest.param("mysql", marks=pytest.mark.mariadb)])
def site(request, tmp_path_factory):
    work = tmp_path_factory.mktemp("sshkeys-" + request.param)
    if request.param == "sqlite3":
        db = work / "db.sqlite3"
        s = Site("sqlite3", django_env(db_engine="sqlite3", db_name=db), dict(engine="sqlite3", name=str(db)), work)
    elif request.param == "postgresql":
        pg = request.getfixturevalue("pg_cluster")
        pg.createdb("sshkeys")
        s = Site("postgresql", pg.env("sshkeys"), pg.db_section("sshkeys"), work)
    else:
        server = request.getfixturevalue("mariadb")
        server.createdb("sshkeys")
        s = Site("mysql", server.env("sshkeys"), server.db_section("sshkeys"), work)
    s.run("seed")
    if request.param == "postgresql":
        # The NOTIFY triggers, the key table's among them, before a daemon listens.
        config = write_config(work / "print.conf", {"database": s.db_section})
        sql = subprocess.run([str(BUILD / "django-authctl"), "install-triggers", "--config", str(config), "--print"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
        assert "sshkey_userkey" in sql
        pg.psql(sql, db="sshkeys")
    return s


@pytest.fixture(scope="module")
def daemon(site):
    d = site.daemon("authd", access=ACCESS, ssh=SSH).start()
    try:
        yield d
    finally:
        rc = d.stop()
        log = d.log_text()
        d.cleanup()
        assert rc == 0, log


def user_id(site, name):
    import sqlite3
    if site.engine != "sqlite3":
        return None
    con = sqlite3.connect(site.db_section["name"])
    try:
        return con.execute("SELECT id FROM auth_user WHERE username = ?", (name,)).fetchone()[0]
    finally:
        con.close()


def test_keys_of_a_user_who_may_log_in(site, daemon, pubkeys):
    ed, ec, rsa, other = pubkeys["ed"], pubkeys["ec"], pubkeys["rsa"], pubkeys["other"]
    ed_type, ed_data = ed.split()[:2]
    smuggled = ed + "\n" + other
    site.keys(alice=[
        ed,
        "  " + ec + "  ",                                  # spaces around: kept, trimmed
        "no-agent-forwarding,from=\"127.0.0.1\" " + rsa,   # allowed options
        smuggled,                                          # a second key line in one row
        other + "\r",
        ed_type + " " + ed_data + " \x1b[31mred",          # a control character in the comment
        "ssh-dss " + ed_data,                              # a type OpenSSH refuses
        ed_type + " " + ed_data[:-3] + "!!!",              # not base64
        "ecdsa-sha2-nistp256 " + ed_data,                  # another type's blob
        "command=\"/bin/sh\" " + other,                    # an option the admin did not allow
    ])
    daemon.client().flush()
    with daemon.client() as c:
        got = c.authorized_keys("alice")
    assert sorted(got) == sorted([ed, ec, "no-agent-forwarding,from=\"127.0.0.1\" " + rsa]), got
    assert all("\n" not in k and "\r" not in k for k in got)
    log = daemon.log_text()
    for why in ["contains a newline", "contains a carriage return", "contains a control character",
                "unknown key type", "key data is not valid base64", "key data is not a ecdsa-sha2-nistp256 key",
                "option 'command=' not allowed"]:
        assert why in log, why
    uid = user_id(site, "alice")
    if uid is not None:
        assert "authorized-keys: user id %d: stored key" % uid in log
    # The key texts are not logged, neither the good nor the bad ones.
    for k in (ed, other, rsa):
        assert k.split()[1][:40] not in log


@pytest.mark.parametrize("user", ["bob", "carol", "root", "nosuchuser"])
def test_no_keys_for_users_who_may_not_log_in(site, daemon, pubkeys, user):
    """bob: not in ssh-users ([access] sshd); carol: inactive; root: a local
    name (the host's); nosuchuser: unknown."""
    if user != "nosuchuser":
        site.keys(**{user: [pubkeys["ed"]]})
    with daemon.client() as c:
        c.flush()
        assert c.authorized_keys(user) == "NoUser"


def test_who_may_ask(site, daemon, pubkeys):
    site.keys(alice=[pubkeys["ed"]])
    daemon.client().flush()
    lines = "print(call('AuthorizedKeys', s('alice')))\n"
    # nobody is the default [ssh] clients: sshd's AuthorizedKeysCommandUser.
    r = run_as("nobody", daemon.socket, lines)
    assert r.returncode == 0 and r.stdout.strip() == str(djproto.STATUS["Ok"]), r.stderr
    # Not www-data, although it may authenticate; not any other user.
    for user in ("www-data", 4242):
        r = run_as(user, daemon.socket, lines)
        assert r.returncode == 0 and r.stdout.strip() == str(djproto.STATUS["Denied"]), r.stderr
    assert "authorized-keys refused: caller uid 33" in daemon.log_text()


def test_off_until_configured(site):
    d = site.daemon("off", access=ACCESS).start()
    try:
        with d.client() as c:
            assert c.authorized_keys("alice") == "Disabled"
        r = subprocess.run([str(BUILD / "django-authctl"), "--socket", str(d.socket), "authorized-keys", "alice"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1 and r.stdout == "", r
        assert "[ssh] authorized_keys is off" in r.stderr
    finally:
        d.stop()
        d.cleanup()


def test_a_removed_key_is_gone(site, daemon, pubkeys):
    site.keys(alice=[pubkeys["ed"], pubkeys["ec"]])
    daemon.client().flush()
    with daemon.client() as c:
        assert sorted(c.authorized_keys("alice")) == sorted([pubkeys["ed"], pubkeys["ec"]])
    # Seen without a flush: SQLite's watcher, PostgreSQL's key table trigger;
    # MySQL has no notification (answers live their ttl).
    site.keys(alice=[pubkeys["ec"]])
    if site.engine == "mysql":
        daemon.client().flush()
    deadline = time.time() + 10
    while True:
        with daemon.client() as c:
            got = c.authorized_keys("alice")
        if got == [pubkeys["ec"]] or time.time() > deadline:
            break
        time.sleep(0.1)
    assert got == [pubkeys["ec"]]


def test_another_apps_table_with_active_and_expiry_columns(site, pubkeys):
    """[schema] key_*: a table of another shape, where inactive and expired
    keys are not printed (an expiry of NULL never expires)."""
    ts = {"postgresql": "timestamp with time zone", "mysql": "datetime(6)"}.get(site.engine, "datetime")
    site.sql(("CREATE TABLE site_keys (id integer PRIMARY KEY, owner integer NOT NULL, pubkey text NOT NULL,"
              " enabled boolean NOT NULL, valid_until %s NULL)" % ts, ()))
    alice = "(SELECT id FROM auth_user WHERE username = 'alice')"
    rows = [(1, pubkeys["ed"], True, None), (2, pubkeys["ec"], False, None),
            (3, pubkeys["rsa"], True, "2001-01-01 00:00:00+00:00"), (4, pubkeys["other"], True,
                                                                     "2999-01-01 00:00:00+00:00")]
    if site.engine != "postgresql":  # as Django writes datetimes there: naive UTC
        rows = [(i, k, e, v and v[:-6]) for i, k, e, v in rows]
    site.sql(*[("INSERT INTO site_keys VALUES (%%s, %s, %%s, %%s, %%s)" % alice, r) for r in rows])
    d = site.daemon("custom", access=ACCESS,
                    schema={"key_table": "site_keys", "key_user": "owner", "key_key": "pubkey",
                            "key_active": "enabled", "key_expires": "valid_until"},
                    ssh={"authorized_keys": True}).start()
    try:
        with d.client() as c:
            assert sorted(c.authorized_keys("alice")) == sorted([pubkeys["ed"], pubkeys["other"]])
    finally:
        d.stop()
        d.cleanup()


def test_cli_output_and_exit_status(site, daemon):
    ctl = [str(BUILD / "django-authctl"), "--socket", str(daemon.socket), "authorized-keys"]
    r = subprocess.run(ctl + ["bob"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout == "" and "no keys" in r.stderr, r
    # No daemon: sshd must see a failure, and go on with its other methods.
    r = subprocess.run([str(BUILD / "django-authctl"), "--socket", str(site.workdir / "no-socket"),
                        "authorized-keys", "alice"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and r.stdout == "" and "daemon unavailable" in r.stderr, r
    r = subprocess.run(ctl, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and r.stdout == "", r


class OlderDaemon(FakeDaemon):
    """A daemon from before AuthorizedKeys: an unknown op is a bad request."""

    def answer(self, op, payload):
        return Last(djproto.frame(payload[1], status=djproto.STATUS["BadRequest"]))


def test_cli_against_an_older_daemon():
    fake = OlderDaemon()
    try:
        r = subprocess.run([str(BUILD / "django-authctl"), "--socket", fake.path, "authorized-keys", "alice"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1 and r.stdout == "", r
        assert "does not know this request" in r.stderr
    finally:
        fake.close()
