"""The checks of a least-privilege database account made by a config/ example
(postgresql-roles.sql, mysql-roles.sql), shared by the engines' tests: each
test module imports the test_* functions below and gives them its `acct`
fixture, an Account (the engine's side).

The database (DB) holds e2e_seed.py's users."""
import json
import os
import subprocess

from conftest import BUILD
from fixtures_daemon import GID_BASE, UID_BASE, Daemon

HERE = os.path.dirname(os.path.abspath(__file__))
NAME, PASSWORD = "django_authd", "authd-test-pw"   # the account the examples make
DB = "roles_site"

CHECK = r'''
import json, sys, django
django.setup()
from django.contrib.auth.models import User
u = User.objects.get(username=sys.argv[1])
print(json.dumps({"ok": u.check_password(sys.argv[2]), "last_login": u.last_login is not None}))
'''


class Account:
    """An engine's side. Subclasses give:
        denied                  the server's word for a refused statement
        as_account(sql)         CompletedProcess of the SQL run as the account
        run_example(**vars)     the config/ example, as its documentation says,
                                with the account's password and `vars`
    and `server` (its .env(db) and .db_section(db))."""

    def __init__(self, server):
        self.server = server

    def seed(self):
        """e2e_seed.py's users in DB (created), then the example, twice: a
        second run changes nothing and does not fail."""
        r = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "e2e_seed.py")], env=self.server.env(DB),
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        self.run_example()
        self.run_example()
        return self

    def django_check(self, user, password):
        """Real Django: {"ok": check_password, "last_login": set}."""
        r = subprocess.run(["/usr/bin/python3", "-c", CHECK, user, password], env=self.server.env(DB),
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def daemon(self, tmp_path, **passwords):
        """A Daemon connected as the account."""
        db = dict(self.server.db_section(DB), user=NAME, password=PASSWORD)
        return Daemon(BUILD, tmp_path / "authd", db, passwords=passwords)

    def set_writes(self, on):
        self.run_example(**(dict(write_password="yes", write_last_login="yes") if on else {}))


def test_account_reads_only_what_the_daemon_needs(acct):
    r = acct.as_account("SELECT username FROM auth_user WHERE username = 'alice'")
    assert r.stdout.strip() == "alice", r.stderr
    for sql in ["SELECT email FROM auth_user", "SELECT last_login FROM auth_user", "SELECT * FROM auth_user",
                "SELECT * FROM django_migrations", "UPDATE auth_user SET password = 'x' WHERE id = 1",
                "DELETE FROM auth_user_groups", "INSERT INTO auth_group (name) VALUES ('x')"]:
        r = acct.as_account(sql)
        assert r.returncode != 0 and acct.denied in r.stderr, (sql, r.stdout, r.stderr)


def test_lookups_logins_and_accounts(acct, tmp_path):
    with acct.daemon(tmp_path) as d, d.client() as c:
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
    assert acct.denied not in d.log_text()


def test_writes_without_the_grant_fail_cleanly(acct, tmp_path):
    with acct.daemon(tmp_path, allow_change=True, update_last_login=True) as d, d.client() as c:
        st = c.change_password("bob", "builder", "new-bob-pw")
        assert st == "Unavailable", st
        # nothing was written; the daemon goes on answering
        assert c.authenticate("bob", "builder") == "Ok"     # its last_login update is refused
        assert c.authenticate("bob", "new-bob-pw") == "WrongPassword"
        assert c.pw_by_name("bob")["name"] == "bob"
        assert d.alive()
    log = d.log_text()
    assert acct.denied in log, log
    assert "last_login of user=bob not updated" in log, log
    assert acct.django_check("bob", "builder") == {"ok": True, "last_login": False}


def test_password_change_with_the_grant(acct, tmp_path):
    acct.set_writes(True)
    try:
        with acct.daemon(tmp_path, allow_change=True, update_last_login=True) as d, d.client() as c:
            assert c.change_password("alice", "wonderland", "through the looking glass") == "Ok"
            assert c.authenticate("alice", "through the looking glass") == "Ok"
            assert c.authenticate("alice", "wonderland") == "WrongPassword"
        assert acct.denied not in d.log_text(), d.log_text()
        # real Django accepts what the daemon stored, and sees the last_login
        assert acct.django_check("alice", "through the looking glass") == {"ok": True, "last_login": True}
    finally:
        acct.set_writes(False)      # back to read-only
    r = acct.as_account("UPDATE auth_user SET password = 'x' WHERE id = 1")
    assert r.returncode != 0 and acct.denied in r.stderr
