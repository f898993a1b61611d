"""Push invalidation (daemon/invalidation.h): with positive_ttl = 3600, a
change committed by real Django (its ORM, in a subprocess, as a site makes
it) is seen through the daemon within about a second: over the socket and
through the NSS module's shared cache file.

  * PostgreSQL with the triggers of `django-authctl install-triggers --print`
    (run twice: idempotent): deactivating a user, removing a member, adding
    a group, renaming a user, changing a password; the listening connection
    killed (pg_terminate_backend) right before a change: not lost; the
    uninstall SQL removes every trigger and the function, and without them
    the daemon keeps its answers for their lifetime, as before.
  * The contrib app's migration installs the same triggers and takes them
    away again (migrate django_authd zero).
  * SQLite: a commit by Django (a new group, a user renamed) is seen
    without triggers.
The deadline (DEADLINE seconds) is a behaviour check with a wide margin over
the second the design gives (a stale answer would last an hour); bench/
measures the delay."""
import os
import shutil
import subprocess
import time

import pytest

from conftest import BUILD, DJANGO_DIR, SANITIZE, TOP
from fixtures_daemon import Daemon, write_config
from fixtures_db import DJANGO_PASSWORD
from nss_harness import NssRunner

DEADLINE = 4.0
CACHE = {"positive_ttl": 3600, "negative_ttl": 3600}
AUTHCTL = BUILD / "django-authctl"

SEED = """
from django.contrib.auth.models import Group, User
ops = Group.objects.create(name="ops")
devs = Group.objects.create(name="devs")
for name in ("alice", "bob", "carol", "dave"):
    u = User.objects.create_user(name, password=name + "-pw-1")
    u.groups.add(ops)
User.objects.get(username="dave").groups.add(devs)
"""


def django(env, code):
    """Runs `code` in Django (django.setup() first), as a site's code runs."""
    r = subprocess.run(["/usr/bin/python3", "-c", "import django; django.setup()\n" + code], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def eventually(probe, want, deadline=DEADLINE):
    """Polls probe() until it returns `want` or the deadline passes; the
    last value."""
    end = time.monotonic() + deadline
    while True:
        got = probe()
        if got == want or time.monotonic() > end:
            return got
        time.sleep(0.05)


def wait_log(daemon, text, timeout=15):
    end = time.monotonic() + timeout
    while text not in daemon.log_text():
        assert time.monotonic() < end, "%r not in the log:\n%s" % (text, daemon.log_text())
        time.sleep(0.05)


def print_sql(config, command):
    r = subprocess.run([str(AUTHCTL), command, "--config", str(config), "--print"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def psql_as_owner(pg, db, sql):
    """SQL run as the database's owner (the role Django uses), as the
    administrator runs install-triggers' output."""
    r = subprocess.run(["/usr/bin/psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", str(pg.sock), "-p",
                        str(pg.port), "-U", "django", "-d", db],
                       input=sql, env=dict(os.environ, PGPASSWORD=DJANGO_PASSWORD), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


# The triggers on the auth tables, and the function. Those on the SSH key
# table (tests/django/django_sshkey's, present in these databases) are
# counted apart: the migration makes them only when that app's table came
# first.
TRIGGERS_SQL = ("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'django_auth_notify%'"
                " AND tgrelid::regclass::text <> 'sshkey_userkey';"
                "SELECT count(*) FROM pg_proc WHERE proname = 'django_auth_notify'")
KEY_TRIGGERS_SQL = ("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'django_auth_notify%'"
                    " AND tgrelid::regclass::text = 'sshkey_userkey'")


def passwd(c, name):
    got = c.pw_by_name(name)
    return got if isinstance(got, str) else got["name"]


def members(c, group):
    got = c.gr_by_name(group)
    return got if isinstance(got, str) else sorted(got["members"])


# --- PostgreSQL with the triggers ----------------------------------------------------------

@pytest.fixture(scope="module")
def site(pg_cluster, tmp_path_factory):
    """A small site in its own database, with the triggers installed twice."""
    pg_cluster.createdb("push")
    env = pg_cluster.env("push")
    django(env, "from django.core.management import call_command\ncall_command('migrate', verbosity=0)\n" + SEED)
    d = tmp_path_factory.mktemp("push-pg")
    config = write_config(d / "print.conf", {"database": pg_cluster.db_section("push")})
    sql = print_sql(config, "install-triggers")
    psql_as_owner(pg_cluster, "push", sql)
    psql_as_owner(pg_cluster, "push", sql)   # idempotent
    assert psql_as_owner(pg_cluster, "push", TRIGGERS_SQL).split() == ["8", "1"]
    assert psql_as_owner(pg_cluster, "push", KEY_TRIGGERS_SQL).split() == ["2"]
    return env, config


@pytest.fixture(scope="module")
def listening(site, pg_cluster, tmp_path_factory):
    d = Daemon(BUILD, tmp_path_factory.mktemp("push-daemon"), pg_cluster.db_section("push"), cache=CACHE)
    d.start()
    wait_log(d, "listening on channel django_auth")
    yield d
    rc = d.stop()
    d.cleanup()
    assert rc == 0, d.log_text()


@pytest.fixture(scope="module")
def ns(listening):
    return NssRunner(BUILD, listening.socket, sanitize=SANITIZE, nsswitch="passwd: django\ngroup: django\n")


def getent(ns, db, key):
    p = ns.getent(db, key)
    return p.stdout.strip() if p.returncode == 0 else "absent"


def ops_members_by_nss(ns):
    line = getent(ns, "group", "ops")
    return line.split(":")[3].split(",") if line != "absent" else []


def test_deactivated_user_leaves_groups(site, listening, ns):
    """An inactive user keeps a passwd entry (django-auth.conf(5)) but is no
    group's member and cannot log in."""
    env, _ = site
    with listening.client() as c:
        assert "alice" in members(c, "ops")
        assert c.authenticate("alice", "alice-pw-1") == "Ok"
    assert "alice" in ops_members_by_nss(ns)
    assert "alice" in ops_members_by_nss(ns)    # now from the file
    django(env, "from django.contrib.auth.models import User\n"
                "u = User.objects.get(username='alice'); u.is_active = False; u.save()\n")
    with listening.client() as c:
        assert eventually(lambda: "alice" in members(c, "ops"), False) is False
        assert c.authenticate("alice", "alice-pw-1") == "NoUser"
    assert eventually(lambda: "alice" in ops_members_by_nss(ns), False) is False


def test_removed_member_leaves_the_group(site, listening, ns):
    env, _ = site
    with listening.client() as c:
        assert "bob" in members(c, "ops")
        uid = c.pw_by_name("bob")["uid"]
        ops_gid = c.gr_by_name("ops")["gid"]
        assert ops_gid in c.groups_of_user("bob")
    assert "bob" in ops_members_by_nss(ns)
    django(env, "from django.contrib.auth.models import Group, User\n"
                "User.objects.get(username='bob').groups.remove(Group.objects.get(name='ops'))\n")
    with listening.client() as c:
        assert eventually(lambda: "bob" in members(c, "ops"), False) is False
        assert ops_gid not in c.groups_of_user("bob")
        assert c.pw_by_uid(uid)["name"] == "bob"
    assert eventually(lambda: "bob" in ops_members_by_nss(ns), False) is False


def test_new_group_appears(site, listening, ns):
    env, _ = site
    with listening.client() as c:
        assert c.gr_by_name("newcomers") == "NotFound"    # cached, negative_ttl 3600
    django(env, "from django.contrib.auth.models import Group, User\n"
                "Group.objects.create(name='newcomers').user_set.add(User.objects.get(username='dave'))\n")
    with listening.client() as c:
        assert eventually(lambda: members(c, "newcomers"), ["dave"]) == ["dave"]
    assert eventually(lambda: getent(ns, "group", "newcomers").startswith("newcomers:"), True) is True


def test_renamed_user(site, listening, ns):
    env, _ = site
    with listening.client() as c:
        carol = c.pw_by_name("carol")
        assert c.pw_by_uid(carol["uid"])["name"] == "carol"
        assert c.pw_by_name("carla") == "NotFound"
    assert getent(ns, "passwd", "carol").startswith("carol:")
    django(env, "from django.contrib.auth.models import User\n"
                "u = User.objects.get(username='carol'); u.username = 'carla'; u.save()\n")
    with listening.client() as c:
        assert eventually(lambda: passwd(c, "carol"), "NotFound") == "NotFound"
        assert passwd(c, "carla") == "carla"
        assert c.pw_by_uid(carol["uid"])["name"] == "carla"
        assert "carla" in members(c, "ops") and "carol" not in members(c, "ops")
    assert eventually(lambda: getent(ns, "passwd", "carol"), "absent") == "absent"
    assert getent(ns, "passwd", str(carol["uid"])).startswith("carla:")


def test_a_change_drops_only_what_it_touches(site, listening, ns):
    """One user's change drops that user's answers and the group answers
    (members are user names), here and in the shared file; another user's
    answers stay cached (no new miss) and a membership change leaves the
    user's passwd entry alone."""
    env, _ = site
    django(env, "from django.contrib.auth.models import Group, User\n"
                "qa = Group.objects.create(name='qa')\n"
                "for n in ('frank', 'grace'): User.objects.create_user(n, password=n + '-pw').groups.add(qa)\n")
    with listening.client() as c:
        assert eventually(lambda: members(c, "qa"), ["frank", "grace"]) == ["frank", "grace"]
        c.pw_by_name("frank")
        c.pw_by_name("grace")
        grace_groups = c.groups_of_user("grace")

        def misses():
            return int(c.stats()["cache_misses"])

        def gecos():
            got = c.pw_by_name("frank")
            return got["gecos"] if isinstance(got, dict) else got

        before = misses()
        c.pw_by_name("grace")
        c.groups_of_user("grace")
        c.gr_by_name("qa")
        assert misses() == before       # all three cached
        django(env, "from django.contrib.auth.models import User\n"
                    "u = User.objects.get(username='frank'); u.first_name = 'Frank'; u.save()\n")
        assert eventually(gecos, "Frank") == "Frank"
        before = misses()
        assert c.pw_by_name("grace")["name"] == "grace"
        assert c.groups_of_user("grace") == grace_groups
        assert misses() == before       # grace's answers were kept
        c.gr_by_name("qa")
        assert misses() == before + 1   # the group's went
        # A membership: grace's groups go, her passwd entry stays.
        django(env, "from django.contrib.auth.models import Group, User\n"
                    "User.objects.get(username='grace').groups.remove(Group.objects.get(name='qa'))\n")
        assert eventually(lambda: len(c.groups_of_user("grace")), len(grace_groups) - 1) == len(grace_groups) - 1
        before = misses()
        assert c.pw_by_name("grace")["name"] == "grace"
        assert misses() == before
    assert getent(ns, "passwd", "frank").split(":")[4] == "Frank"


def test_changed_password(site, listening):
    env, _ = site
    with listening.client() as c:
        assert c.authenticate("dave", "dave-pw-1") == "Ok"
    django(env, "from django.contrib.auth.models import User\n"
                "u = User.objects.get(username='dave'); u.set_password('dave-pw-2'); u.save()\n")
    with listening.client() as c:
        assert eventually(lambda: c.authenticate("dave", "dave-pw-2"), "Ok") == "Ok"
        assert c.authenticate("dave", "dave-pw-1") == "WrongPassword"


def test_change_while_the_listener_is_killed_is_not_lost(site, listening):
    env, _ = site
    with listening.client() as c:
        assert "dave" in members(c, "devs")
    lost_before = listening.log_text().count("connection lost")
    # The listening backend is terminated, and the change committed at once,
    # before the daemon can listen again.
    out = django(env, "from django.db import connection\n"
                      "from django.contrib.auth.models import Group, User\n"
                      "with connection.cursor() as cur:\n"
                      "    cur.execute(\"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity\"\n"
                      "                \" WHERE application_name = 'django-authd listen'\"\n"
                      "                \" AND datname = current_database()\")\n"
                      "    print(cur.fetchone()[0])\n"
                      "User.objects.get(username='dave').groups.remove(Group.objects.get(name='devs'))\n")
    assert out.split() == ["1"]
    with listening.client() as c:
        assert eventually(lambda: members(c, "devs"), []) == []
    wait_log(listening, "listening on channel django_auth")
    assert listening.log_text().count("connection lost") == lost_before + 1
    # Listening again: the next change is notified as before.
    django(env, "from django.contrib.auth.models import Group, User\n"
                "User.objects.get(username='dave').groups.add(Group.objects.get(name='devs'))\n")
    with listening.client() as c:
        assert eventually(lambda: members(c, "devs"), ["dave"]) == ["dave"]


def test_uninstalled_triggers_leave_the_ttl(site, listening, pg_cluster, tmp_path):
    """Last of the module: the uninstall SQL takes everything away, and a
    daemon on a database without triggers keeps its answers (as before
    this feature) until a flush."""
    env, config = site
    sql = print_sql(config, "uninstall-triggers")
    psql_as_owner(pg_cluster, "push", sql)
    psql_as_owner(pg_cluster, "push", sql)
    assert psql_as_owner(pg_cluster, "push", TRIGGERS_SQL).split() == ["0", "0"]
    assert psql_as_owner(pg_cluster, "push", KEY_TRIGGERS_SQL).split() == ["0"]
    count = ("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'django-authd listen'"
             " AND datname = current_database()")
    before = psql_as_owner(pg_cluster, "push", count).strip()   # the module's daemon, still listening
    with Daemon(BUILD, tmp_path / "d", pg_cluster.db_section("push"), cache=CACHE) as d:
        wait_log(d, "no triggers in the database")
        # The connection that looked for them is closed, not kept.
        assert eventually(lambda: psql_as_owner(pg_cluster, "push", count).strip(), before) == before
        with d.client() as c:
            assert passwd(c, "bob") == "bob"
            django(env, "from django.contrib.auth.models import User\n"
                        "User.objects.filter(username='bob').update(username='bobby')\n")
            time.sleep(1.5)
            assert passwd(c, "bob") == "bob"      # cached for its hour
            assert c.flush() == "Ok"
            assert passwd(c, "bob") == "NotFound"
        assert "listening on channel" not in d.log_text()


def test_contrib_migration_installs_and_removes(pg_cluster, tmp_path):
    pg_cluster.createdb("push_app")
    (tmp_path / "push_settings.py").write_text(
        "from settings import *\nINSTALLED_APPS = INSTALLED_APPS + ['django_authd']\n")
    env = dict(pg_cluster.env("push_app"), DJANGO_SETTINGS_MODULE="push_settings",
               PYTHONPATH=os.pathsep.join([str(tmp_path), str(DJANGO_DIR), str(TOP / "contrib")]),
               PYTHONDONTWRITEBYTECODE="1")
    django(env, "from django.core.management import call_command\ncall_command('migrate', verbosity=0)\n")
    assert psql_as_owner(pg_cluster, "push_app", TRIGGERS_SQL).split() == ["8", "1"]
    # The same SQL as the command prints for the same names.
    config = write_config(tmp_path / "c.conf", {"database": pg_cluster.db_section("push_app")})
    printed = print_sql(config, "install-triggers")
    from_app = django(env, "from django.db import connection\n"
                           "from django_authd.triggers import sql_for\n"
                           "print(sql_for(connection, 'install'), end='')\n")
    assert printed == "BEGIN;\n" + from_app + "COMMIT;\n"
    django(env, "from django.core.management import call_command\n"
                "call_command('migrate', 'django_authd', 'zero', verbosity=0)\n")
    assert psql_as_owner(pg_cluster, "push_app", TRIGGERS_SQL).split() == ["0", "0"]


# --- SQLite ---------------------------------------------------------------------------------

def test_sqlite_commit_is_seen(sqlite_population, tmp_path):
    db = tmp_path / "db.sqlite3"
    shutil.copyfile(sqlite_population.db_section["name"], db)
    env = dict(sqlite_population.env, DJ_DB_NAME=str(db))
    user = next(u for u, e in sorted(sqlite_population.expected["users"].items())
                if e.get("id") and u.startswith("user") and u[4:].isdigit() and int(u[4:]) % 7 != 3)
    with Daemon(BUILD, tmp_path / "d", dict(engine="sqlite3", name=str(db)), sqlite_population, cache=CACHE) as d:
        ns = NssRunner(BUILD, d.socket, sanitize=SANITIZE, nsswitch="passwd: django\ngroup: django\n")
        with d.client() as c:
            assert passwd(c, user) == user
            assert c.gr_by_name("push-new") == "NotFound"
        assert getent(ns, "passwd", user).startswith(user + ":")
        django(env, "from django.contrib.auth.models import Group, User\n"
                    "User.objects.filter(username=%r).update(username='push-renamed')\n"
                    "Group.objects.create(name='push-new')\n" % user)
        with d.client() as c:
            assert eventually(lambda: passwd(c, user), "NotFound") == "NotFound"
            assert members(c, "push-new") == []
            assert passwd(c, "push-renamed") == "push-renamed"
        assert eventually(lambda: getent(ns, "passwd", user), "absent") == "absent"
