"""django-authd connected to MariaDB as the least-privilege account made by
config/mysql-roles.sql (run as it is, through the mariadb client): lookups,
logins and account checks work, also for ALICE; with @write_password = 'yes'
a password change is stored (and real Django accepts the new password);
without that grant the change fails cleanly (no crash, nothing written,
lookups and logins go on), as does a last_login update. The account cannot
read columns the daemon does not need."""
import subprocess

import pytest

import roles_checks
from conftest import TOP
from roles_checks import DB, NAME, PASSWORD
# The shared checks, run here against this engine's `acct`.
from roles_checks import (test_account_reads_only_what_the_daemon_needs, test_lookups_logins_and_accounts,  # noqa: F401
                          test_password_change_with_the_grant, test_writes_without_the_grant_fail_cleanly)


class MyAccount(roles_checks.Account):
    denied = "command denied"

    def run_example(self, **variables):
        """config/mysql-roles.sql through the mariadb client as root, the
        settings in --init-command."""
        settings = dict(authd_password=PASSWORD, **variables)
        init = "SET " + ", ".join("@%s = '%s'" % kv for kv in settings.items())
        with open(TOP / "config" / "mysql-roles.sql") as f:
            r = subprocess.run(["mariadb", "--no-defaults", "--socket=%s" % self.server.sock, "-u", "root",
                                "--init-command=" + init, DB], stdin=f, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr

    def as_account(self, sql):
        return subprocess.run(["mariadb", "--no-defaults", "--socket=%s" % self.server.sock, "-u", NAME,
                               "-p" + PASSWORD, "--batch", "--skip-column-names", DB, "-e", sql],
                              capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def acct(mariadb):
    mariadb.createdb(DB)
    return MyAccount(mariadb).seed()


def test_other_spellings_through_the_account(acct, tmp_path):
    """BOB is bob under MariaDB's collation, for the least-privilege account
    too (and a password change by another spelling is bob's)."""
    with acct.daemon(tmp_path) as d, d.client() as c:
        bob = c.pw_by_name("bob")
        assert c.pw_by_name("BOB") == bob and c.pw_by_name("Bob") == bob
        assert c.groups_of_user("BOB") == c.groups_of_user("bob")
        assert c.authenticate("BOB", "builder") == "Ok"
        assert c.account("Bob", ["developers"])[0] == "Ok"
    acct.set_writes(True)
    try:
        with acct.daemon(tmp_path / "w", allow_change=True) as d, d.client() as c:
            assert c.change_password("BOB", "builder", "bob the builder") == "Ok"
            assert c.authenticate("bob", "bob the builder") == "Ok"
            assert c.change_password("Bob", "bob the builder", "builder") == "Ok"
        assert acct.django_check("bob", "builder")["ok"] is True
    finally:
        acct.set_writes(False)
