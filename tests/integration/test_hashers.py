"""django-authctl check-hash / make-hash against real Django.

The oracle is Debian's Django 3.2 (python3-django, python3-argon2,
python3-bcrypt) running the test project in tests/django:
  * tests/django/vectors.json holds values made by Django and edited into
    malformed and hostile variants, each with check_password()'s answer;
    test_vectors_are_current regenerates it and compares.
  * every hash make-hash prints must verify in Django's check_password().
Django is always run in one process per batch of values (JSON on stdin).
"""
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import DJANGO_DIR, django_env

ALL = ["pbkdf2_sha256", "pbkdf2_sha1", "argon2", "bcrypt_sha256", "scrypt", "bcrypt", "sha1",
       "md5", "unsalted_sha1", "unsalted_md5", "crypt"]
VECTORS_FILE = DJANGO_DIR / "vectors.json"
VECTORS = json.loads(VECTORS_FILE.read_text())["vectors"]

# Reads [[password, encoded], ...] on stdin, prints Django's check_password()
# answers (an exception counts as False).
DJANGO_CHECK = r"""
import json, sys, warnings
warnings.simplefilter("ignore")
import django
django.setup()
from django.contrib.auth.hashers import check_password
out = []
for password, encoded in json.load(sys.stdin):
    try:
        out.append(bool(check_password(password, encoded)))
    except Exception:
        out.append(False)
json.dump(out, sys.stdout)
"""


def django_check(pairs, hashers=ALL):
    env = django_env()
    env["DJ_HASHERS"] = ",".join(hashers)
    env["DJ_PBKDF2_ITERATIONS"] = "1000"  # only the dummy hash of unknown values
    p = subprocess.run(["/usr/bin/python3", "-c", DJANGO_CHECK], input=json.dumps(pairs),
                       env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.fixture(scope="module")
def authctl(build):
    path = build / "django-authctl"
    assert path.exists(), "build %s first" % path
    return str(path)


def check(authctl, password, encoded, *args):
    if isinstance(password, str):
        password = password.encode()
    return subprocess.run([authctl, "check-hash", *args, "--", encoded], input=password,
                          capture_output=True, timeout=120)


def make(authctl, password, *args):
    if isinstance(password, str):
        password = password.encode()
    p = subprocess.run([authctl, "make-hash", *args], input=password, capture_output=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.endswith(b"\n") and p.stdout.count(b"\n") == 1
    return p.stdout[:-1].decode()


def vector_id(v):
    return re.sub(r"[^A-Za-z0-9_.#=^+-]+", "_", v["note"])[:80]


# --- the vectors ---------------------------------------------------------------------

@pytest.mark.parametrize("v", VECTORS, ids=[vector_id(v) for v in VECTORS])
def test_vector(authctl, v):
    p = check(authctl, v["password"], v["encoded"], "--hashers", "all", "--iterations", "1000")
    assert p.returncode in (0, 1), p.stderr
    assert (p.returncode == 0) == v["expected"], (v["note"], p.stderr)
    if p.returncode == 1:
        lines = p.stderr.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith("django-authctl: check-hash: ")
        # The reason never repeats the password or the stored value (unless
        # that is a word the messages use anyway, like "password").
        for secret in (v["password"], v["encoded"]):
            if len(secret) >= 4 and secret not in ALL + ["password"]:
                assert secret not in lines[0]


def test_vectors_are_current(tmp_path):
    """The checked-in file is what the generator makes with this Django."""
    out = tmp_path / "vectors.json"
    p = subprocess.run(["/usr/bin/python3", str(DJANGO_DIR / "make_vectors.py"), str(out)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    fresh = json.loads(out.read_text())["vectors"]
    assert len(fresh) == len(VECTORS)
    for new, old in zip(fresh, VECTORS):
        assert new == old, new["note"]


def test_vectors_cover_everything():
    notes = " ".join(v["note"] for v in VECTORS)
    for alg in ALL:
        assert any(v["expected"] and v["note"].split(" ")[0] == alg for v in VECTORS), alg
    for what in ["argon2 I", "argon2 D", "argon2 ID", "hash_len 16", "hash_len 32",
                 "without v=", "$2a$", "$2y$", "$y$", "$5$", "$6$", "$1$", "unusable",
                 "empty value", "leading zero", "unpadded base64", "truncated"]:
        assert what in notes, what
    assert VECTORS_FILE.stat().st_size < 1_000_000


# --- hasher lists ----------------------------------------------------------------------

def one_good_vector_per_algorithm():
    seen = {}
    for v in VECTORS:
        if not v["expected"]:
            continue
        alg = v["note"].split(" ")[0].rstrip(":")
        if alg in ALL and alg not in seen:
            seen[alg] = v
    return seen


@pytest.mark.parametrize("alg", ALL)
def test_disabled_hasher_fails(authctl, alg):
    v = one_good_vector_per_algorithm()[alg]
    others = [a for a in ALL if a != alg]
    p = check(authctl, v["password"], v["encoded"], "--hashers", ",".join(others),
              "--iterations", "1000")
    assert p.returncode == 1
    assert b"not enabled" in p.stderr
    assert django_check([[v["password"], v["encoded"]]], hashers=others) == [False]
    # Enabled alone, it verifies; and preferred or not makes no difference.
    assert check(authctl, v["password"], v["encoded"], "--hashers", alg).returncode == 0
    assert check(authctl, v["password"], v["encoded"], "--hashers",
                 ",".join(others + [alg]), "--iterations", "1000").returncode == 0


def test_default_django_list(authctl):
    """Django's default list verifies none of the legacy formats."""
    default = ["pbkdf2_sha256", "pbkdf2_sha1", "argon2", "bcrypt_sha256", "scrypt"]
    good = one_good_vector_per_algorithm()
    for alg, v in good.items():
        p = check(authctl, v["password"], v["encoded"], "--hashers", ",".join(default),
                  "--iterations", "1000")
        assert (p.returncode == 0) == (alg in default), alg


# --- make-hash round trips ------------------------------------------------------------

PASSWORDS = ["", "password", "pässwörd ключ 🔑", "with $dollar: colon and space ",
             "x" * 300, "pass\0word"]
SMALL_WORK = {"pbkdf2_sha256": "1000", "pbkdf2_sha1": "1000", "argon2": "1",
              "bcrypt_sha256": "4", "bcrypt": "4", "scrypt": "1024"}


def test_make_hash_round_trip(authctl):
    made = []
    for alg in ALL:
        # argon2 costs 100 MiB a hash whatever the time cost: fewer passwords.
        passwords = PASSWORDS[1:3] if alg == "argon2" else PASSWORDS
        for pw in passwords:
            if "\0" in pw and alg in ("bcrypt", "crypt"):
                continue  # refused by pyca/bcrypt and crypt(3), so by make-hash too
            args = ["--algorithm", alg]
            if alg in SMALL_WORK:
                args += ["--iterations", SMALL_WORK[alg]]
            made.append((alg, pw, make(authctl, pw, *args)))
    # The default: pbkdf2_sha256 at 1,200,000 iterations.
    # (check-hash at that count is covered by the vectors.)
    default = make(authctl, "correct horse")
    pairs = [[pw, enc] for _, pw, enc in made] + [["correct horse", default]]
    # (A changed first character: DES reads 8 characters and bcrypt 72 bytes.)
    wrong = [["!" + pw, enc] for pw, enc in pairs]
    assert django_check(pairs + wrong) == [True] * len(pairs) + [False] * len(wrong)
    for alg, pw, enc in made:
        assert check(authctl, pw, enc, "--iterations", "1000").returncode == 0, (alg, enc)


def test_make_hash_formats(authctl):
    pw = "pässwörd"
    assert re.fullmatch(r"pbkdf2_sha256\$1200000\$[A-Za-z0-9]{22}\$[A-Za-z0-9+/]{43}=",
                        make(authctl, pw))
    assert re.fullmatch(r"pbkdf2_sha1\$1000\$[A-Za-z0-9]{22}\$[A-Za-z0-9+/]{27}=",
                        make(authctl, pw, "--algorithm", "pbkdf2_sha1", "--iterations", "1000"))
    assert re.fullmatch(r"argon2\$argon2id\$v=19\$m=102400,t=2,p=8\$[A-Za-z0-9+/]{30}"
                        r"\$[A-Za-z0-9+/]{43}", make(authctl, pw, "--algorithm", "argon2"))
    assert re.fullmatch(r"bcrypt_sha256\$\$2b\$12\$[./A-Za-z0-9]{53}",
                        make(authctl, pw, "--algorithm", "bcrypt_sha256"))
    assert re.fullmatch(r"scrypt\$16384\$[A-Za-z0-9]{22}\$8\$5\$[A-Za-z0-9+/]{86}==",
                        make(authctl, pw, "--algorithm", "scrypt"))
    assert re.fullmatch(r"md5\$[A-Za-z0-9]{22}\$[0-9a-f]{32}",
                        make(authctl, pw, "--algorithm", "md5"))
    assert re.fullmatch(r"[0-9a-f]{32}", make(authctl, pw, "--algorithm", "unsalted_md5"))
    assert re.fullmatch(r"crypt\$\$[A-Za-z0-9]{2}[./A-Za-z0-9]{11}",
                        make(authctl, pw, "--algorithm", "crypt"))
    # Fresh salt every time.
    assert make(authctl, pw, "--iterations", "1000") != make(authctl, pw, "--iterations", "1000")


# --- the command line ------------------------------------------------------------------

def test_password_is_all_of_stdin(authctl):
    enc = make(authctl, "password", "--iterations", "1000")
    it = ("--iterations", "1000")  # else a failure costs harden_runtime's 1,199,000
    assert check(authctl, b"password", enc, *it).returncode == 0
    assert check(authctl, b"password\n", enc, *it).returncode == 1
    enc_nl = make(authctl, "password\n", "--iterations", "1000")
    assert check(authctl, b"password\n", enc_nl, *it).returncode == 0
    assert check(authctl, b"password", enc_nl, *it).returncode == 1


def test_check_hash_defaults_to_all_hashers(authctl):
    enc = make(authctl, "pw", "--algorithm", "md5")
    assert check(authctl, "pw", enc).returncode == 0


def run(authctl, *args, stdin=b""):
    return subprocess.run([authctl, *args], input=stdin, capture_output=True, timeout=60)


def test_help(authctl):
    for args in (["--help"], ["check-hash", "--help"], ["make-hash", "--help"]):
        p = run(authctl, *args)
        assert p.returncode == 0 and p.stdout.startswith(b"usage: django-authctl"), args
    top = run(authctl, "--help").stdout
    assert b"check-hash" in top and b"make-hash" in top


@pytest.mark.parametrize("args,message", [
    ([], b"usage"),
    (["frobnicate"], b"unknown command 'frobnicate'"),
    (["check-hash"], b"missing ENCODED"),
    (["check-hash", "a", "b"], b"too many arguments"),
    (["check-hash", "--hashers", "md5,nope", "x"], b"unknown password hasher: nope"),
    (["check-hash", "--hashers", "md5,md5", "x"], b"listed twice: md5"),
    (["check-hash", "--hashers", "", "x"], b"empty name"),
    (["check-hash", "--hashers"], b"--hashers needs a value"),
    (["check-hash", "--iterations", "abc", "x"], b"--iterations must be a positive number"),
    (["check-hash", "--bogus", "x"], b"unknown option '--bogus'"),
    (["make-hash", "--algorithm", "sha3"], b"unknown password hasher: sha3"),
    (["make-hash", "--iterations", "0"], b"--iterations must be between"),
    (["make-hash", "secret"], b"unexpected argument"),
])
def test_usage_errors(authctl, args, message):
    p = run(authctl, *args)
    assert p.returncode == 2, p
    assert message in p.stderr, p.stderr


def test_make_hash_failures(authctl):
    p = run(authctl, "make-hash", "--algorithm", "bcrypt", stdin=b"a\0b")
    assert p.returncode == 1 and b"NUL" in p.stderr
    p = run(authctl, "make-hash", "--algorithm", "scrypt", "--iterations", "1000")
    assert p.returncode == 1 and b"power of two" in p.stderr


def test_hostile_values_are_quick(authctl):
    """Values that would make Django run for hours fail at once."""
    hostile = [v for v in VECTORS if not v["django"]]
    assert len(hostile) >= 5
    for v in hostile:
        p = check(authctl, v["password"], v["encoded"], "--iterations", "1000")
        assert p.returncode == 1 and b"limit" in p.stderr, v["note"]
