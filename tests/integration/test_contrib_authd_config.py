"""contrib/django_authd: "manage.py authd_config" run by real Django (Debian's
python3-django) on real sites, and the real daemon serving what it wrote.

  * the suite's own site (tests/django): the sections the fixtures use, and
    the daemon on them passes --check-config and logs Django's users in;
  * a custom user model (tests/django/custom_user: e-mail as USERNAME_FIELD
    in the column "mail" of the table "people", no is_active or is_staff,
    PermissionsMixin), migrated by Django: the daemon serves its users by
    e-mail address, with their groups;
  * PASSWORD_HASHERS and AUTH_PASSWORD_VALIDATORS as [passwords]; what the
    daemon cannot serve is a WARNING and exit 2, unless --force;
  * PostgreSQL DATABASES: the connection keys, the password never in the
    sections unless asked, and the daemon on a real server.
The app is used both ways its README gives: copied into the project's path,
and installed by pip from the tree (offline)."""
import configparser
import os
import shutil
import stat
import subprocess

import pytest

from conftest import BUILD, DJANGO_DIR, TOP
from fixtures_daemon import Daemon, GID_BASE, UID_BASE, write_config

CONTRIB = TOP / "contrib"
CUSTOM_DIR = DJANGO_DIR / "custom_user"
AUTHD = BUILD / "django-authd"
SCRYPT_BACKPORT = "djtest.hashers.ScryptPasswordHasher"
HASHERS = "django.contrib.auth.hashers."
OWN_SECTIONS = ("database", "schema", "passwords")


@pytest.fixture(scope="module")
def app_copy(tmp_path_factory):
    """A directory holding a copy of contrib/django_authd, as a project that
    copies the app into itself has it."""
    d = tmp_path_factory.mktemp("app-copy")
    shutil.copytree(CONTRIB / "django_authd", d / "django_authd",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return d


def run_command(manage, env, *args, cwd=None):
    env = dict(env, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(["/usr/bin/python3", str(manage), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def suite_site(app_dir, tmp_path, base_env, extra=""):
    """(manage.py, env) of the suite's site with django_authd installed and
    `extra` lines appended to its settings."""
    (tmp_path / "authd_settings.py").write_text(
        "from settings import *\nINSTALLED_APPS = INSTALLED_APPS + ['django_authd']\n" + extra)
    env = dict(base_env, DJANGO_SETTINGS_MODULE="authd_settings",
               PYTHONPATH=os.pathsep.join([str(tmp_path), str(DJANGO_DIR), str(app_dir)]))
    return DJANGO_DIR / "manage.py", env


def parse(text):
    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string(text)
    return {s: dict(ini[s]) for s in ini.sections()}


def stock_schema():
    """The shipped [schema] of the user model; the SSH key table's key_*
    (django-sshkey's, not the user model's) are not authd_config's to write."""
    text = (TOP / "config" / "django-auth.conf").read_text()
    return {k: v for k, v in parse(text)["schema"].items() if not k.startswith("key_")}


def daemon_on(fragment, workdir, **sections):
    """A Daemon whose configuration is `fragment` (the command's output, as
    written) followed by the suite's other sections."""
    d = Daemon(BUILD, workdir, {}, **sections)
    rest = workdir / "rest.conf"
    write_config(rest, {k: v for k, v in d.sections.items() if k not in OWN_SECTIONS})
    d.config.write_text(fragment + "\n" + rest.read_text())
    d.config.chmod(0o600)
    return d


def check_config(path):
    return subprocess.run([str(AUTHD), "--config", str(path), "--check-config"], capture_output=True, text=True,
                          timeout=60)


# --- the suite's own site ----------------------------------------------------------------

def test_suite_site_gives_the_fixtures_sections_and_the_daemon_serves_it(app_copy, tmp_path, sqlite_population):
    manage, env = suite_site(app_copy, tmp_path, sqlite_population.env)
    r = run_command(manage, env, "authd_config", "--compatible-hasher", SCRYPT_BACKPORT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("# django-authd: [database], [schema] and [passwords]")
    assert "settings module authd_settings" in r.stdout and "config/django-auth.conf" in r.stdout
    got = parse(r.stdout)
    assert sorted(got) == sorted(OWN_SECTIONS)
    assert got["database"] == sqlite_population.db_section
    assert got["schema"] == stock_schema()
    probe = Daemon(BUILD, tmp_path / "probe", {})
    probe.cleanup()
    assert got["passwords"]["hashers"] == probe.sections["passwords"]["hashers"]
    # djtest sets the iterations on Django's own class (no subclass): no key.
    assert "pbkdf2_iterations" not in got["passwords"]

    d = daemon_on(r.stdout, tmp_path / "authd")
    c = check_config(d.config)
    assert c.returncode == 0, c.stdout + c.stderr
    users = [u for u in sqlite_population.spec["users"] if u["is_active"] and u["hasher"] in
             ("pbkdf2_sha256", "scrypt", "argon2") and ":" not in u["username"] and u["username"].isascii()
             and u["username"].isalnum()]
    by_hasher = {u["hasher"]: u for u in users}
    assert set(by_hasher) == {"pbkdf2_sha256", "scrypt", "argon2"}
    with d:
        with d.client() as cl:
            for u in by_hasher.values():
                assert cl.authenticate(u["username"], u["password"]) == "Ok", u
                assert cl.authenticate(u["username"], u["password"] + "x") != "Ok", u


def test_the_backport_without_compatible_hasher_is_a_warning(app_copy, tmp_path, sqlite_population):
    manage, env = suite_site(app_copy, tmp_path, sqlite_population.env)
    r = run_command(manage, env, "authd_config")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "# WARNING: PASSWORD_HASHERS: %s" % SCRYPT_BACKPORT in r.stdout
    assert "warning: [passwords] PASSWORD_HASHERS: %s (algorithm 'scrypt')" % SCRYPT_BACKPORT in r.stderr
    assert "name it with --compatible-hasher" in r.stderr
    assert parse(r.stdout)["passwords"]["hashers"] == "pbkdf2_sha256, pbkdf2_sha1, argon2, bcrypt_sha256"


# --- a custom user model ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def custom_site(tmp_path_factory):
    """The custom-user site installed by pip from the tree (offline, with the
    system's setuptools), migrated by Django, with two members and a group."""
    d = tmp_path_factory.mktemp("custom-site")
    src = d / "src"
    shutil.copytree(CONTRIB, src, ignore=shutil.ignore_patterns("__pycache__"))
    r = subprocess.run(["/usr/bin/python3", "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
                        "--no-build-isolation", "--target", str(d / "lib"), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (d / "lib" / "django_authd" / "management" / "commands" / "authd_config.py").is_file()
    env = dict(os.environ, CU_DB_NAME=str(d / "db.sqlite3"), PYTHONPATH=str(d / "lib"))
    manage = CUSTOM_DIR / "manage.py"
    for args in (["migrate", "-v0"],
                 ["shell", "-c", "from django.contrib.auth.models import Group\n"
                                 "from accounts.models import Member\n"
                                 "g = Group.objects.create(name='editors')\n"
                                 "Group.objects.create(name='readers')\n"
                                 "Member.objects.create_user('alice@example.org', 'alice-secret-1').groups.add(g)\n"
                                 "Member.objects.create_user('bob@example.org', 'bob-secret-22')\n"]):
        r = run_command(manage, env, *args, cwd=d)
        assert r.returncode == 0, r.stdout + r.stderr
    return manage, env, d


def django_ids(manage, env, cwd):
    r = run_command(manage, env, "shell", "-c",
                    "from django.contrib.auth.models import Group\nfrom accounts.models import Member\n"
                    "print(Member.objects.get(email='alice@example.org').pk, Group.objects.get(name='editors').pk)",
                    cwd=cwd)
    assert r.returncode == 0, r.stderr
    return [int(x) for x in r.stdout.split()]


def test_custom_user_model_maps_and_the_daemon_serves_its_members(custom_site, tmp_path):
    manage, env, site = custom_site
    out = tmp_path / "fragment.conf"
    r = run_command(manage, env, "authd_config", "--output", str(out), cwd=site)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == "" and stat.S_IMODE(out.stat().st_mode) == 0o600
    text = out.read_text()
    got = parse(text)
    expected = dict(stock_schema(), user_table="people", user_username="mail", user_is_active="",
                    user_is_staff="", user_first_name="", user_last_name="", user_groups_table="people_groups",
                    user_groups_user="member_id", user_perms_table="people_user_permissions",
                    user_perms_user="member_id")
    assert got["schema"] == expected
    assert "# note: Member.is_active is no column" in text
    assert got["database"] == {"engine": "sqlite3", "name": str(site / "db.sqlite3")}
    assert got["passwords"] == {
        "hashers": "pbkdf2_sha256", "pbkdf2_iterations": "1500",
        "validators": "MinimumLengthValidator, CommonPasswordValidator", "min_length": "12",
        "common_passwords": "/usr/lib/python3/dist-packages/django/contrib/auth/common-passwords.txt.gz"}

    alice_id, editors_id = django_ids(manage, env, site)
    d = daemon_on(text, tmp_path / "authd")
    c = check_config(d.config)
    assert c.returncode == 0, c.stdout + c.stderr
    with d:
        with d.client() as cl:
            pw = cl.pw_by_name("alice@example.org")
            assert pw["name"] == "alice@example.org" and pw["uid"] == UID_BASE + alice_id, pw
            assert cl.groups_of_user("alice@example.org") == [GID_BASE + editors_id]
            assert cl.gr_by_name("editors")["members"] == ["alice@example.org"]
            assert cl.gr_by_name("readers")["members"] == []
            assert cl.authenticate("alice@example.org", "alice-secret-1") == "Ok"
            assert cl.authenticate("alice@example.org", "bob-secret-22") != "Ok"
            assert cl.authenticate("bob@example.org", "bob-secret-22") == "Ok"
            assert cl.groups_of_user("bob@example.org") == []
            assert cl.pw_by_name("alice") == "NotFound"


# --- PASSWORD_HASHERS ------------------------------------------------------------------------

@pytest.mark.parametrize("hashers,expected", [
    (["Argon2PasswordHasher", "PBKDF2PasswordHasher", "BCryptSHA256PasswordHasher"],
     "argon2, pbkdf2_sha256, bcrypt_sha256"),
    (["BCryptPasswordHasher", "SHA1PasswordHasher", "MD5PasswordHasher", "UnsaltedSHA1PasswordHasher",
      "UnsaltedMD5PasswordHasher", "CryptPasswordHasher", "PBKDF2SHA1PasswordHasher"],
     "bcrypt, sha1, md5, unsalted_sha1, unsalted_md5, crypt, pbkdf2_sha1"),
])
def test_django_hashers_map_in_order(app_copy, tmp_path, sqlite_population, hashers, expected):
    manage, env = suite_site(app_copy, tmp_path, sqlite_population.env,
                             "PASSWORD_HASHERS = %r\n" % [HASHERS + h for h in hashers])
    r = run_command(manage, env, "authd_config")
    assert r.returncode == 0, r.stdout + r.stderr
    assert parse(r.stdout)["passwords"]["hashers"] == expected


def test_work_factors_of_hasher_subclasses(app_copy, tmp_path, sqlite_population):
    extra = ("from django.contrib.auth import hashers as h\n"
             "class StrongArgon2(h.Argon2PasswordHasher):\n    time_cost = 4\n    memory_cost = 65536\n"
             "class StrongBCrypt(h.BCryptSHA256PasswordHasher):\n    rounds = 14\n"
             "PASSWORD_HASHERS = ['authd_settings.StrongArgon2', 'authd_settings.StrongBCrypt',"
             " 'django.contrib.auth.hashers.PBKDF2PasswordHasher']\n")
    manage, env = suite_site(app_copy, tmp_path, sqlite_population.env, extra)
    r = run_command(manage, env, "authd_config")
    assert r.returncode == 0, r.stdout + r.stderr
    p = parse(r.stdout)["passwords"]
    assert p["hashers"] == "argon2, bcrypt_sha256, pbkdf2_sha256"
    assert (p["argon2_time_cost"], p["argon2_memory_cost"], p["bcrypt_rounds"]) == ("4", "65536", "14")
    assert "argon2_parallelism" not in p and "pbkdf2_iterations" not in p


def test_hashers_of_the_sites_own_are_warnings(custom_site, tmp_path):
    manage, env, site = custom_site
    env = dict(env, CU_HASHERS="accounts.hashers.ReversedHasher,accounts.hashers.SaltyPBKDF2PasswordHasher,"
                               + HASHERS + "Argon2PasswordHasher,no.such.Hasher")
    out = tmp_path / "fragment.conf"
    r = run_command(manage, env, "authd_config", "--output", str(out), cwd=site)
    assert r.returncode == 2, r.stdout + r.stderr
    assert not out.exists(), "a refused configuration is not written"
    assert "3 warning(s)" in r.stderr and "nothing written" in r.stderr
    for name in ("ReversedHasher", "SaltyPBKDF2PasswordHasher", "no.such.Hasher"):
        assert "warning: [passwords] PASSWORD_HASHERS: " in r.stderr and name in r.stderr
    r = run_command(manage, env, "authd_config", cwd=site)
    assert r.returncode == 2
    assert r.stdout.count("# WARNING: PASSWORD_HASHERS:") == 3
    assert parse(r.stdout)["passwords"]["hashers"] == "argon2"
    r = run_command(manage, env, "authd_config", "--force", "--output", str(out), cwd=site)
    assert r.returncode == 0, r.stderr
    assert parse(out.read_text())["passwords"]["hashers"] == "argon2"
    assert "# WARNING: PASSWORD_HASHERS: accounts.hashers.ReversedHasher" in out.read_text()


def test_unknown_validator_and_engine_are_warnings(app_copy, tmp_path, sqlite_population):
    extra = ("AUTH_PASSWORD_VALIDATORS = [{'NAME': 'django.contrib.auth.password_validation."
             "UserAttributeSimilarityValidator', 'OPTIONS': {'max_similarity': 0.5}},"
             " {'NAME': 'site.validators.NoEmoji'}]\n"
             "DATABASES['other'] = {'ENGINE': 'django.db.backends.mysql', 'NAME': 'site'}\n")
    manage, env = suite_site(app_copy, tmp_path, sqlite_population.env, extra)
    r = run_command(manage, env, "authd_config", "--compatible-hasher", SCRYPT_BACKPORT)
    assert r.returncode == 2, r.stdout + r.stderr
    p = parse(r.stdout)["passwords"]
    assert (p["validators"], p["max_similarity"]) == ("UserAttributeSimilarityValidator", "0.5")
    assert "site.validators.NoEmoji is not one of Django's validators" in r.stderr
    r = run_command(manage, env, "authd_config", "--database", "other", "--compatible-hasher", SCRYPT_BACKPORT)
    assert r.returncode == 2
    assert "# WARNING: DATABASES['other'] ENGINE" in r.stdout
    assert "django.db.backends.mysql': django-authd serves SQLite and PostgreSQL only" in r.stderr
    r = run_command(manage, env, "authd_config", "--database", "nope")
    assert r.returncode != 0 and "DATABASES has no 'nope'" in r.stderr


# --- PostgreSQL ------------------------------------------------------------------------------

PG_SETTINGS = """
DATABASES = {"default": {
    "ENGINE": "django.db.backends.postgresql", "NAME": "site", "USER": "django", "PASSWORD": "s3cret 'pw'#x",
    "HOST": "db.example.org", "PORT": 5433,
    "OPTIONS": {"sslmode": "verify-full", "sslrootcert": "/etc/ssl/db ca.pem", "connect_timeout": 3,
                "isolation_level": 1, "options": "-c search_path=site"},
}}
"""


def test_postgresql_keys_and_the_password_kept_out(app_copy, tmp_path, sqlite_population):
    manage, env = suite_site(app_copy, tmp_path, sqlite_population.env, PG_SETTINGS)
    r = run_command(manage, env, "authd_config", "--compatible-hasher", SCRYPT_BACKPORT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "s3cret" not in r.stdout + r.stderr
    db = parse(r.stdout)["database"]
    assert db == {"engine": "postgresql", "name": "site", "user": "django", "host": "db.example.org",
                  "port": "5433", "connect_timeout": "3", "password_file": "",
                  "options": "sslmode=verify-full sslrootcert='/etc/ssl/db ca.pem' options='-c search_path=site'"}
    assert "--password-file" in r.stderr and "isolation_level" in r.stderr

    pw = tmp_path / "db-password"
    r = run_command(manage, env, "authd_config", "--compatible-hasher", SCRYPT_BACKPORT, "--password-file", str(pw))
    assert r.returncode == 0, r.stderr
    assert "s3cret" not in r.stdout + r.stderr
    assert parse(r.stdout)["database"]["password_file"] == str(pw)
    assert pw.read_text() == "s3cret 'pw'#x\n" and stat.S_IMODE(pw.stat().st_mode) == 0o600

    r = run_command(manage, env, "authd_config", "--compatible-hasher", SCRYPT_BACKPORT, "--include-password")
    assert r.returncode == 0, r.stderr
    db = parse(r.stdout)["database"]
    assert db["password"] == "s3cret 'pw'#x" and "password_file" not in db


def test_postgresql_site_served_through_the_password_file(app_copy, tmp_path, pg_population):
    manage, env = suite_site(app_copy, tmp_path, pg_population.env)
    pw = tmp_path / "db-password"
    r = run_command(manage, env, "authd_config", "--compatible-hasher", SCRYPT_BACKPORT, "--password-file", str(pw))
    assert r.returncode == 0, r.stdout + r.stderr
    db = parse(r.stdout)["database"]
    expected = dict(pg_population.db_section, password_file=str(pw), options="")
    del expected["password"]
    assert db == expected
    d = daemon_on(r.stdout, tmp_path / "authd")
    c = check_config(d.config)
    assert c.returncode == 0, c.stdout + c.stderr
    u = next(u for u in pg_population.spec["users"] if u["is_active"] and u["hasher"] == "pbkdf2_sha256")
    with d:
        with d.client() as cl:
            assert cl.authenticate(u["username"], u["password"]) == "Ok"
            assert cl.authenticate(u["username"], "not-" + u["password"]) != "Ok"


def test_a_user_model_the_daemon_cannot_serve_is_refused(custom_site, tmp_path):
    manage, env, site = custom_site
    env = dict(env, CU_USER_MODEL="plain.Account")
    out = tmp_path / "fragment.conf"
    r = run_command(manage, env, "authd_config", "--output", str(out), cwd=site)
    assert r.returncode == 2, r.stdout + r.stderr
    assert not out.exists()
    for text in ("the primary key Account.id is of type UUIDField",
                 "USERNAME_FIELD 'number' is of type IntegerField",
                 "Account.is_staff is computed in Python; django-authd takes it as false",
                 "Account has no 'groups' many-to-many field",
                 "Account has no 'user_permissions' many-to-many field"):
        assert "warning: [schema] " + text in r.stderr, r.stderr
    assert "5 warning(s)" in r.stderr
    r = run_command(manage, env, "authd_config", "--force", "--output", str(out), cwd=site)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert text.count("# WARNING: ") == 5
    schema = parse(text)["schema"]
    assert (schema["user_table"], schema["user_username"], schema["user_is_staff"]) == ("plain_account", "number", "")
