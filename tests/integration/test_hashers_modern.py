"""django-authctl check-hash against today's Django: 4.2 LTS, 5.2 LTS, 6.0.

tests/django/vectors_modern.json holds values made by the primitives those
versions' hashers call, in their formats, with each version's defaults,
and values they verify with unusual parameters (make_vectors_modern.py
says how, and how "expected" is found). Each one is checked here with the
C++ hashers; test_modern_vectors_are_current regenerates the file and
compares. vectors.json (real Django 3.2) is test_hashers.py's."""
import json
import re
import subprocess

import pytest

from conftest import DJANGO_DIR

VECTORS_FILE = DJANGO_DIR / "vectors_modern.json"
DATA = json.loads(VECTORS_FILE.read_text())
VECTORS = DATA["vectors"]


@pytest.fixture(scope="module")
def authctl(build):
    path = build / "django-authctl"
    assert path.exists(), "build %s first" % path
    return str(path)


def iterations_of(v):
    """The version's own pbkdf2 count, so that a wrong password is not
    topped up by harden_runtime to another count (only timing is at stake)."""
    version = v["django"].split(",")[0]
    return str(DATA["defaults"][version]["pbkdf2"])


def vector_id(v):
    return re.sub(r"[^A-Za-z0-9_.#=^+-]+", "_", v["note"])[:90]


@pytest.mark.parametrize("v", VECTORS, ids=[vector_id(v) for v in VECTORS])
def test_modern_vector(authctl, v):
    p = subprocess.run([authctl, "check-hash", "--hashers", "all", "--iterations", iterations_of(v),
                        "--", v["encoded"]], input=v["password"].encode(), capture_output=True, timeout=120)
    assert p.returncode in (0, 1), p.stderr
    assert (p.returncode == 0) == v["expected"], (v["note"], p.stderr)


def test_modern_vectors_are_current(tmp_path):
    out = tmp_path / "vectors_modern.json"
    p = subprocess.run(["/usr/bin/python3", str(DJANGO_DIR / "make_vectors_modern.py"), str(out)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert json.loads(out.read_text())["vectors"] == VECTORS


def test_modern_vectors_cover_each_version():
    for version, d in DATA["defaults"].items():
        notes = [v["note"] for v in VECTORS if v["django"] == version and v["expected"]]
        for what in ["pbkdf2_sha256 %d (default)" % d["pbkdf2"], "pbkdf2_sha1 %d" % d["pbkdf2"],
                     "argon2 argon2id t=2 m=102400 p=8 hash_len 32", "hash_len 16",
                     "bcrypt_sha256 rounds 12", "scrypt n=16384 r=8 p=%d (default)" % d["scrypt"][2], "md5"]:
            assert any(what in n for n in notes), (version, what)
    assert [d["pbkdf2"] for d in DATA["defaults"].values()] == [600000, 1000000, 1200000]
    unusual = " ".join(v["note"] for v in VECTORS if v["expected"])
    for what in ["p=100", "p=65", "t=1025", "64-byte tag, 8-byte salt", "I v=16", "D without v=", "ID v=19"]:
        assert what in unusual, what
    assert any(not v["expected"] and "32 MiB" in v["note"] for v in VECTORS)
