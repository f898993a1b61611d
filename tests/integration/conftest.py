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
