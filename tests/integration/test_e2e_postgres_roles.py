"""django-authd connected to PostgreSQL as the least-privilege role made by
config/postgresql-roles.sql (run as it is, through psql): lookups, logins
and account checks work; with write_password=yes a password change is
stored (and real Django accepts the new password); without that grant the
change fails cleanly (no crash, nothing written, lookups and logins go on),
as does a last_login update. The role cannot read columns the daemon does
not need."""
import json
import os
import subprocess

import pytest

from conftest import BUILD, TOP
from fixtures_daemon import GID_BASE, UID_BASE, Daemon

HERE = os.path.dirname(os.path.abspath(__file__))
ROLE, ROLE_PASSWORD = "django_authd", "authd-test-pw"
DB = "roles_site"

CHECK = r'''
import json, sys, django
django.setup()
from django.contrib.auth.models import User
u = User.objects.get(username=sys.argv[1])
print(json.dumps({"ok": u.check_password(sys.argv[2]), "last_login": u.last_login is not None}))
'''


def run_roles_sql(pg, **variables):
    """config/postgresql-roles.sql through psql as the superuser."""
    args = ["runuser", "-u", "postgres", "--", "/usr/bin/psql", "-X", "-q", "-h", str(pg.sock),
            "-p", str(pg.port), "-U", "postgres", "-d", DB, "-v", "authd_password=" + ROLE_PASSWORD]
    for k, v in variables.items():
        args += ["-v", "%s=%s" % (k, v)]
    with open(TOP / "config" / "postgresql-roles.sql") as f:
        r = subprocess.run(args + ["-f", "-"], stdin=f, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def as_role(pg, sql):
    env = dict(os.environ, PGPASSWORD=ROLE_PASSWORD)
    return subprocess.run(["/usr/bin/psql", "-X", "-q", "-At", "-h", str(pg.sock), "-p", str(pg.port),
                           "-U", ROLE, "-d", DB, "-c", sql], env=env, capture_output=True, text=True,
                          timeout=60)


def django_check(pg, user, password):
    r = subprocess.run(["/usr/bin/python3", "-c", CHECK, user, password], env=pg.env(DB),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def roles_db(pg_cluster):
    pg_cluster.createdb(DB)
    r = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "e2e_seed.py")], env=pg_cluster.env(DB),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    run_roles_sql(pg_cluster)
    run_roles_sql(pg_cluster)      # a second run changes nothing and does not fail
    return pg_cluster


def daemon_for(pg, tmp_path, **passwords):
    db = dict(pg.db_section(DB), user=ROLE, password=ROLE_PASSWORD)
    return Daemon(BUILD, tmp_path / "authd", db, passwords=passwords)


def test_role_reads_only_what_the_daemon_needs(roles_db):
    assert as_role(roles_db, "SELECT username FROM auth_user WHERE username = 'alice'").stdout.strip() == "alice"
    for sql in ["SELECT email FROM auth_user", "SELECT last_login FROM auth_user", "SELECT * FROM auth_user",
                "SELECT * FROM django_migrations", "UPDATE auth_user SET password = 'x' WHERE id = 1",
                "DELETE FROM auth_user_groups", "INSERT INTO auth_group (name) VALUES ('x')"]:
        r = as_role(roles_db, sql)
        assert r.returncode != 0 and "permission denied" in r.stderr, (sql, r.stdout, r.stderr)


def test_lookups_logins_and_accounts(roles_db, tmp_path):
    with daemon_for(roles_db, tmp_path) as d, d.client() as c:
        alice = c.pw_by_name("alice")
        assert alice["name"] == "alice" and alice["uid"] > UID_BASE and alice["gecos"] == "Alice", alice
        assert c.pw_by_uid(alice["uid"])["name"] == "alice"
        devs = c.gr_by_name("developers")
        assert sorted(devs["members"]) == ["alice", "bob"] and devs["gid"] > GID_BASE
        assert len(c.groups_of_user("alice")) == 4
        assert c.authenticate("alice", "wonderland") == "Ok"
        assert c.authenticate("alice", "wrong") == "WrongPassword"
        assert c.authenticate("carol", "singer") == "NoUser"
        assert c.account("alice", ["ftp-users"])[0] == "Ok"
        assert c.account("bob", ["ftp-users"])[0] == "PermDenied"
        assert c.account("admin", [], perms=["auth.view_user"])[0] == "Ok"   # superuser
        assert c.account("bob", [], perms=["auth.view_user"])[0] == "PermDenied"
        # e2e_seed.py USERS, but for Django's "root": a reserved name is never served
        assert len(c.pw_list()) == 5 and len(c.gr_list()) == 5
    assert "permission denied" not in d.log_text()


def test_writes_without_the_grant_fail_cleanly(roles_db, tmp_path):
    with daemon_for(roles_db, tmp_path, allow_change=True, update_last_login=True) as d, d.client() as c:
        st = c.change_password("bob", "builder", "new-bob-pw")
        assert st == "Unavailable", st
        # nothing was written; the daemon goes on answering
        assert c.authenticate("bob", "builder") == "Ok"     # its last_login update is refused
        assert c.authenticate("bob", "new-bob-pw") == "WrongPassword"
        assert c.pw_by_name("bob")["name"] == "bob"
        assert d.alive()
    log = d.log_text()
    assert "permission denied" in log, log
    assert "last_login of user=bob not updated" in log, log
    assert django_check(roles_db, "bob", "builder") == {"ok": True, "last_login": False}


def test_password_change_with_the_grant(roles_db, tmp_path):
    run_roles_sql(roles_db, write_password="yes", write_last_login="yes")
    try:
        with daemon_for(roles_db, tmp_path, allow_change=True, update_last_login=True) as d, d.client() as c:
            assert c.change_password("alice", "wonderland", "through the looking glass") == "Ok"
            assert c.authenticate("alice", "through the looking glass") == "Ok"
            assert c.authenticate("alice", "wonderland") == "WrongPassword"
        assert "permission denied" not in d.log_text(), d.log_text()
        # real Django accepts what the daemon stored, and sees the last_login
        assert django_check(roles_db, "alice", "through the looking glass") == {"ok": True, "last_login": True}
    finally:
        run_roles_sql(roles_db)      # back to read-only
    r = as_role(roles_db, "UPDATE auth_user SET password = 'x' WHERE id = 1")
    assert r.returncode != 0 and "permission denied" in r.stderr
