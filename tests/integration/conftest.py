"""Shared pytest fixtures. Tests run with Debian's /usr/bin/python3 (real
Django is the oracle) from tests/run, which sets DJ_BUILD and DJ_TOP.

Fixtures for the database servers and the daemon live in their own modules
(listed in pytest_plugins) so each part of the suite can grow on its own."""
import os
import pathlib
import sys

import pytest

TOP = pathlib.Path(os.environ.get("DJ_TOP", pathlib.Path(__file__).resolve().parents[2]))
BUILD = pathlib.Path(os.environ.get("DJ_BUILD", TOP / "build"))
SANITIZE = os.environ.get("DJ_SANITIZE", "0") == "1"
DJANGO_DIR = TOP / "tests" / "django"

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

pytest_plugins = [
    m[:-3] for m in sorted(os.listdir(pathlib.Path(__file__).resolve().parent))
    if m.startswith("fixtures_") and m.endswith(".py")
]


@pytest.fixture(scope="session")
def build():
    return BUILD


@pytest.fixture(scope="session")
def top():
    return TOP


def django_env(**db):
    """Environment for running the test Django project (tests/django)."""
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "settings"
    env["PYTHONPATH"] = str(DJANGO_DIR)
    for k, v in db.items():
        env["DJ_" + k.upper()] = str(v)
    return env


# --- markers: what a test needs ------------------------------------------------------
# Set from the fixtures a test uses (and its module), so that no test can
# forget its marker. `make check-unit` runs the tests marked none of
# postgres, mariadb, e2e, slow; `pytest -m postgres` only those, and so on.
MARKERS = {
    "postgres": "needs the PostgreSQL cluster the tests start (and PgBouncer for test_daemon_pgbouncer)",
    "mariadb": "needs the MariaDB server the tests start (fixtures_mysql)",
    "e2e": "real sshd, Apache or vsftpd in a private mount namespace (fixtures_e2e)",
    "slow": "takes more than a few seconds: attacks, floods, concurrency, big populations",
}
# Modules whose tests are slow as a whole (seconds measured in a full run;
# tests/README.md has the table).
SLOW_MODULES = {"test_abuse", "test_attack_dos", "test_attack_disclosure", "test_concurrency",
                "test_fault_recovery", "test_daemon_faults", "test_heartbeat", "test_hashers",
                "test_hashers_modern", "test_site_params", "test_contrib_authd_config",
                "test_pam_messages", "test_otp", "test_many_hosts"}
PG_FIXTURES = {"pg_cluster", "pg_population", "daemon_pg", "topology"}
MARIADB_FIXTURES = {"mariadb", "mysql_population", "daemon_mysql"}


def pytest_configure(config):
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", "%s: %s" % (name, text))


def pytest_collection_modifyitems(config, items):
    for item in items:
        names = set(item.fixturenames)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if names & PG_FIXTURES or "pg" in params.values():
            item.add_marker(pytest.mark.postgres)
        if names & MARIADB_FIXTURES or "mysql" in params.values():
            item.add_marker(pytest.mark.mariadb)
        if "e2e" in names:
            item.add_marker(pytest.mark.e2e)
        if item.module.__name__ in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
