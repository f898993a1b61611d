"""engine = mysql where MySQL's answers differ from the other databases, with
Django on MariaDB as the oracle: names compare case- (and accent-)
insensitively and ignore trailing spaces under the default collations, so
Django authenticates ALICE as alice. The daemon follows Django; NSS answers
with the stored name, the PAM module sets PAM_USER to it, the cache keeps one
entry per user and the throttle counts one user. Also: utf8mb3 columns,
boolean columns as TINYINT, and the plugin the daemon loads only for this
engine."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import BUILD, SANITIZE
from fixtures_daemon import UID_BASE, Daemon, write_config
from fixtures_mysql import SPELLINGS
from nss_harness import NssRunner
from pam_util import ServiceDir, harness

AUTH_MAP = {"Ok": True, "WrongPassword": False, "NoUser": None}


def django_sql(pop, sql, *args):
    """Runs one query through Django's own MySQL connection (MySQLdb, the
    site's OPTIONS): what Django's ORM finds for the same comparison."""
    code = ("import django, json, sys; django.setup()\n"
            "from django.db import connection\n"
            "with connection.cursor() as c:\n"
            "    c.execute(sys.argv[1], sys.argv[2:]); print(json.dumps(c.fetchall()))\n")
    r = subprocess.run(["/usr/bin/python3", "-c", code, sql, *args], env=pop.env, capture_output=True, text=True,
                       timeout=60)
    if "Illegal mix of collations" in r.stderr:
        return "collation error"
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


# --- the daemon follows Django on MariaDB ------------------------------------------------

def test_spellings_authenticate_as_django_says(daemon_mysql):
    pop = daemon_mysql.db
    exp = pop.expected["spellings"]
    found = [t for t, e in exp.items() if e["found"]]
    assert len(found) >= 4, exp   # the collation at work, as Django sees it
    with daemon_mysql.client() as c:
        for typed, stored in SPELLINGS.items():
            pw = pop.password(stored)
            e = exp[typed]
            assert AUTH_MAP[c.authenticate(typed, pw)] == e["right"], typed
            assert AUTH_MAP[c.authenticate(typed, pw + "x")] == e["wrong"], typed


def test_nss_answers_with_the_stored_name(daemon_mysql):
    pop = daemon_mysql.db
    ns = NssRunner(BUILD, daemon_mysql.socket, sanitize=SANITIZE)
    with daemon_mysql.client() as c:
        for typed, e in pop.expected["spellings"].items():
            if not e["found"]:
                continue
            stored = e["found"]
            uid = UID_BASE + pop.expected["users"][stored]["id"]
            p = c.pw_by_name(typed)
            assert p["name"] == stored and p["uid"] == uid, (typed, p)
            assert c.pw_by_name(stored) == p
            assert c.groups_of_user(typed) == c.groups_of_user(stored)
            line = ns.getent("passwd", typed).stdout.strip()
            assert line.split(":")[:3] == [stored, "x", str(uid)], (typed, line)
            # id(1) resolves the typed name and prints the stored one
            out = ns.run(["id", "--", typed]).stdout
            assert "uid=%d(%s)" % (uid, stored) in out, (typed, out)
        # group names too: Django's auth_group.name has the same collation
        g = c.gr_by_name("DEVS")
        assert g["name"] == "devs" and g == c.gr_by_name("devs")


def test_pam_user_becomes_the_stored_name(daemon_mysql, tmp_path):
    pop = daemon_mysql.db
    svc = ServiceDir(tmp_path / "pam.d")
    base = "pam_django.so socket=%s" % daemon_mysql.socket
    svc.add("web", "auth required %s nodelay\naccount required %s\n" % (base, base))
    exp = pop.expected["spellings"]
    reqs = [(typed, pop.password(stored)) for typed, stored in SPELLINGS.items()]
    reqs += [(typed, pop.password(stored) + "x") for typed, stored in SPELLINGS.items()]
    got = harness(svc.path, "web", reqs, ops="auth,acct", chain=True)
    for (typed, pw), g in zip(reqs, got):
        e = exp[typed]
        right = not pw.endswith("x")
        outcome = e["right"] if right else e["wrong"]
        want = {True: "PAM_SUCCESS", False: "PAM_AUTH_ERR", None: "PAM_USER_UNKNOWN"}[outcome]
        assert g["auth"] == want, (typed, g)
        if want == "PAM_SUCCESS":
            assert g["pam_user"] == e["found"], (typed, g)   # as pam_sss does
            assert g["acct"] == "PAM_SUCCESS", (typed, g)
        else:
            assert g["pam_user"] == typed, (typed, g)


def test_throttle_counts_one_user_whatever_the_spelling(mysql_population, tmp_path):
    pop = mysql_population
    name = "user002"
    pw = pop.password(name)
    with Daemon(BUILD, tmp_path / "d", pop.db_section, pop,
                throttle={"deny": 3, "client_deny": 0, "fail_interval": 60, "unlock_time": 60}) as d:
        with d.client() as c:
            for s in ["USER002", "User002", "user002 "]:
                assert c.authenticate(s, "wrong") == "WrongPassword", s
            for s in [name, "uSeR002", "USER002  "]:
                assert c.authenticate(s, pw) == "Throttled", s
        r = subprocess.run([str(BUILD / "django-authctl"), "throttle", "--socket", str(d.socket)],
                           capture_output=True, text=True, timeout=30)
        users = [l.split() for l in r.stdout.splitlines() if l.split() and l.split()[0] == "user"]
        assert users and users[0][1:3] == [name, "3"], r.stdout   # one record, the stored name


def test_cache_keeps_one_entry_per_user(mariadb, mysql_population, tmp_path):
    """ALICE and alice never get two cache entries that can disagree after a
    change: a spelling answers from the stored name's entry."""
    mariadb.copydb("site", "site_cache")
    section = mariadb.db_section("site_cache")
    with Daemon(BUILD, tmp_path / "d", section, mysql_population, cache={"positive_ttl": 600}) as d:
        with d.client() as c:
            before = c.pw_by_name("user010")
            assert before["gecos"] != "Changed Name"
            mariadb.sql("UPDATE auth_user SET first_name = 'Changed', last_name = 'Name' "
                        "WHERE username = 'user010'", db="site_cache")
            # found by the database under another spelling, answered from the entry
            assert c.pw_by_name("USER010") == before
            assert c.pw_by_name("User010") == before
            st = c.stats()
            c.flush()
            after = c.pw_by_name("USER010")
            assert after["gecos"] == "Changed Name" and after["name"] == "user010"
            assert c.pw_by_name("user010") == after
        assert st   # stats answered


# --- column types --------------------------------------------------------------------------

def test_boolean_columns_are_tinyint(mariadb, mysql_population):
    cols = mariadb.sql("SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'site' "
                       "AND TABLE_NAME = 'auth_user' AND COLUMN_NAME LIKE 'is\\_%'")
    assert sorted(cols.split()) == sorted(["is_active", "tinyint", "is_staff", "tinyint", "is_superuser", "tinyint"])
    # the flags themselves are checked against Django for every user in
    # test_daemon.py (permissions, staff, superuser, inactive)


def test_utf8mb3_and_utf8mb4_columns(mariadb, mysql_population, tmp_path):
    """A 4-byte character in a name: found exactly in a utf8mb4 table, nothing
    (and no database error) in a utf8mb3 one, as Django's own query says."""
    pop = mysql_population
    mariadb.copydb("site", "site_mb")
    mariadb.sql("INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, "
                "is_active, date_joined) SELECT password, 0, 'emoji\U0001F600', '', '', '', 0, 1, date_joined "
                "FROM auth_user WHERE username = 'user001'",
                "CREATE TABLE mb3_user LIKE auth_user",
                "ALTER TABLE mb3_user CONVERT TO CHARACTER SET utf8mb3 COLLATE utf8mb3_general_ci",
                "INSERT INTO mb3_user SELECT * FROM auth_user WHERE username NOT LIKE 'emoji%'", db="site_mb")
    env_pop = type(pop)(pop.engine, pop.db_section, pop.spec, pop.expected, mariadb.env("site_mb"))
    pw = pop.password("user001")
    probes = ["emoji\U0001F600", "emoji\U0001F601", "zoë", "ZOË", "user001"]
    mb3_refusals = 0
    for table in ["auth_user", "mb3_user"]:
        section = dict(mariadb.db_section("site_mb"))
        with Daemon(BUILD, tmp_path / table, section, pop, schema={"user_table": table}) as d:
            with d.client() as c:
                for name in probes:
                    rows = django_sql(env_pop, "SELECT username FROM %s WHERE username = %%s" % table, name)
                    got = c.authenticate(name, pw)
                    if rows == "collation error":
                        # Django raises; nobody can have the name: no such user
                        # (no database error each time someone types one)
                        assert table == "mb3_user" and name.startswith("emoji"), (table, name)
                        assert got == "NoUser" and c.pw_by_name(name) == "NotFound", (table, name, got)
                        mb3_refusals += 1
                        continue
                    assert got in ("Ok", "WrongPassword", "NoUser"), (table, name, got)
                    assert (got != "NoUser") == bool(rows), (table, name, got, rows)
                    if name.startswith("emoji") and rows:
                        assert c.pw_by_name(name)["name"] == rows[0][0]
            assert "Illegal mix" not in d.log_text()
    assert mb3_refusals == 2

# --- the plugin ------------------------------------------------------------------------------

def test_daemon_does_not_link_the_connector():
    out = subprocess.run(["ldd", str(BUILD / "django-authd")], capture_output=True, text=True, check=True).stdout
    assert "libmariadb" not in out and "libmysqlclient" not in out, out
    plugin = subprocess.run(["ldd", str(BUILD / "django-authd-mysql.so")], capture_output=True, text=True,
                            check=True).stdout
    assert "libmariadb.so.3" in plugin, plugin
    syms = subprocess.run(["nm", "-D", "--defined-only", str(BUILD / "django-authd-mysql.so")],
                          capture_output=True, text=True, check=True).stdout
    assert [l.split()[-1] for l in syms.splitlines()] == ["dj_mysql_engine_create"], syms


def test_missing_or_untrusted_plugin_is_named(mysql_population, tmp_path):
    """A daemon without the plugin beside it (and none installed) refuses to
    start and names the package; a plugin others may write is not loaded."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shutil.copy2(BUILD / "django-authd", bindir / "django-authd")
    conf = write_config(tmp_path / "c.conf", {"database": mysql_population.db_section})
    r = subprocess.run([str(bindir / "django-authd"), "--check-config", "--config", str(conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "install the django-authd-mysql package" in r.stderr + r.stdout, r.stderr
    shutil.copy2(BUILD / "django-authd-mysql.so", bindir / "django-authd-mysql.so")
    os.chmod(bindir / "django-authd-mysql.so", 0o666)
    r = subprocess.run([str(bindir / "django-authd"), "--check-config", "--config", str(conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "writable by group or others" in r.stderr + r.stdout, r.stderr
    os.chmod(bindir / "django-authd-mysql.so", 0o644)
    r = subprocess.run([str(bindir / "django-authd"), "--check-config", "--config", str(conf)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_bad_options_are_refused(mysql_population, tmp_path):
    conf = write_config(tmp_path / "c.conf", {"database": dict(mysql_population.db_section,
                                                               options="sslmode=require")})
    r = subprocess.run([str(BUILD / "django-authd"), "--check-config", "--config", str(conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "unknown key 'sslmode' for engine mysql" in r.stderr, r.stderr


def test_option_files_as_django_read_default_file(mariadb, mysql_population, tmp_path):
    """option_files is Django's OPTIONS['read_default_file']: its [client]
    group gives what the configuration leaves empty (socket, account,
    password), and the configuration's own keys take precedence."""
    pop = mysql_population
    cnf = tmp_path / "my.cnf"
    cnf.write_text("[client]\nsocket = %s\nuser = django\npassword = %s\n" % (mariadb.sock, pop.db_section["password"]))
    os.chmod(cnf, 0o600)
    u = next(u for u in pop.spec["users"] if pop.expected["users"][u["username"]]["right"] is True)
    only_file = {"engine": "mysql", "name": "site", "option_files": str(cnf)}
    with Daemon(BUILD, tmp_path / "a", only_file, pop) as d, d.client() as c:
        assert c.authenticate(u["username"], u["password"]) == "Ok"
    # a wrong password in the file, the right one in the configuration: it wins
    cnf.write_text("[client]\nsocket = %s\nuser = django\npassword = not-this-one\n" % mariadb.sock)
    with Daemon(BUILD, tmp_path / "b", dict(only_file, password=pop.db_section["password"]), pop) as d, \
            d.client() as c:
        assert c.authenticate(u["username"], u["password"]) == "Ok"
    # and without it, the file's wrong password is what the server sees
    conf = write_config(tmp_path / "c.conf", {"database": only_file})
    r = subprocess.run([str(BUILD / "django-authd"), "--check-config", "--config", str(conf)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "Access denied for user 'django'" in r.stdout + r.stderr, r.stdout + r.stderr
    assert "not-this-one" not in r.stdout + r.stderr
