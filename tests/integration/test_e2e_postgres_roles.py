"""django-authd connected to PostgreSQL as the least-privilege role made by
config/postgresql-roles.sql (run as it is, through psql): lookups, logins
and account checks work; with write_password=yes a password change is
stored (and real Django accepts the new password); without that grant the
change fails cleanly (no crash, nothing written, lookups and logins go on),
as does a last_login update. The role cannot read columns the daemon does
not need."""
import os
import subprocess

import pytest

import roles_checks
from conftest import TOP
from roles_checks import DB, NAME, PASSWORD
# The shared checks, run here against this engine's `acct`.
from roles_checks import (test_account_reads_only_what_the_daemon_needs, test_lookups_logins_and_accounts,  # noqa: F401
                          test_password_change_with_the_grant, test_writes_without_the_grant_fail_cleanly)


class PgAccount(roles_checks.Account):
    denied = "permission denied"

    def run_example(self, **variables):
        """config/postgresql-roles.sql through psql as the superuser."""
        pg = self.server
        args = ["runuser", "-u", "postgres", "--", "/usr/bin/psql", "-X", "-q", "-h", str(pg.sock),
                "-p", str(pg.port), "-U", "postgres", "-d", DB, "-v", "authd_password=" + PASSWORD]
        for k, v in variables.items():
            args += ["-v", "%s=%s" % (k, v)]
        with open(TOP / "config" / "postgresql-roles.sql") as f:
            r = subprocess.run(args + ["-f", "-"], stdin=f, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr

    def as_account(self, sql):
        pg = self.server
        env = dict(os.environ, PGPASSWORD=PASSWORD)
        return subprocess.run(["/usr/bin/psql", "-X", "-q", "-At", "-h", str(pg.sock), "-p", str(pg.port),
                               "-U", NAME, "-d", DB, "-c", sql], env=env, capture_output=True, text=True,
                              timeout=60)


@pytest.fixture(scope="module")
def acct(pg_cluster):
    pg_cluster.createdb(DB)
    return PgAccount(pg_cluster).seed()
