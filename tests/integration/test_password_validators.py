"""Django's AUTH_PASSWORD_VALIDATORS for password changes through the daemon
([passwords] validators), with real Django 3.2 as the oracle: for each new
password, Django's validate_password() with the four validators of a
startproject settings file, and the daemon's ChangePassword answer (Ok, or
BadRequest with the same messages, which pam_django shows)."""
import json
import subprocess

from conftest import BUILD, django_env
from fixtures_daemon import Daemon

VALIDATORS = ["UserAttributeSimilarityValidator", "MinimumLengthValidator", "CommonPasswordValidator",
              "NumericPasswordValidator"]

MAKE_SITE = r'''
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth.models import User
User.objects.create_user("jsmith", password="Old-pass-1", first_name="John", last_name="Smith-Åström")
User.objects.create_user("ölaf_x", password="Old-pass-1", first_name="", last_name="")
'''

# Reads [[username, password], ...]; prints Django's messages for each.
DJANGO_VALIDATE = r'''
import json, sys, django
django.setup()
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import get_password_validators, validate_password
from django.core.exceptions import ValidationError
validators = get_password_validators([{"NAME": "django.contrib.auth.password_validation." + n}
                                      for n in json.loads(sys.argv[1])])
out = []
for username, password in json.load(sys.stdin):
    try:
        validate_password(password, User.objects.get(username=username), validators)
        out.append([])
    except ValidationError as e:
        out.append(e.messages)
json.dump(out, sys.stdout)
'''

CASES = [
    ("jsmith", "correct horse battery staple"),
    ("jsmith", "short"),
    ("jsmith", "x"),
    ("jsmith", "password"),
    ("jsmith", "  PassWord\t"),
    ("jsmith", "pässword"),
    ("jsmith", "12345678"),
    ("jsmith", "98127364519"),
    ("jsmith", "1234"),
    ("jsmith", "jsmith2024"),
    ("jsmith", "htimsj"),
    ("jsmith", "JohnJohn"),
    ("jsmith", "Johnny7"),
    ("jsmith", "John.Smith"),
    ("jsmith", "ÅSTRÖMÅSTRÖM"),
    ("jsmith", "smith-åström!"),
    ("jsmith", "Trombone-Ascot-19"),
    ("jsmith", "qwertyuiop"),
    ("jsmith", "Q W E R T Y"),
    ("ölaf_x", "ÖLAF_X-1999"),
    ("ölaf_x", "falö_xö"),
    ("ölaf_x", "sunshine"),
    ("ölaf_x", "a-very-long-passphrase-about-nothing-at-all-ölaf"),
]


def test_validators_agree_with_django(tmp_path):
    path = tmp_path / "site.sqlite3"
    env = dict(django_env(db_engine="sqlite3", db_name=path), DJ_PBKDF2_ITERATIONS="1000")
    p = subprocess.run(["/usr/bin/python3", "-c", MAKE_SITE], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    p = subprocess.run(["/usr/bin/python3", "-c", DJANGO_VALIDATE, json.dumps(VALIDATORS)], env=env,
                       input=json.dumps(CASES), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    django = json.loads(p.stdout)
    assert any(django) and not all(django)
    said = " ".join(m for ms in django for m in ms)
    for what in ["too similar to the username", "too similar to the first name", "too similar to the last name",
                 "too short", "too common", "entirely numeric"]:
        assert what in said, what
    old = {"jsmith": "Old-pass-1", "ölaf_x": "Old-pass-1"}
    with Daemon(BUILD, tmp_path / "d", {"engine": "sqlite3", "name": str(path)},
                passwords={"allow_change": True, "validators": VALIDATORS}) as d:
        with d.client() as c:
            for (user, new), messages in zip(CASES, django):
                st, text = c.change_password_text(user, old[user], new)
                if messages:
                    assert (st, text) == ("BadRequest", " ".join(messages)), (user, new)
                else:
                    assert st == "Ok", (user, new, st, text)
                    old[user] = new
                    assert c.authenticate(user, new) == "Ok"
        log = d.log_text()
    for _, new in CASES:
        if len(new) >= 6 and new != "password":  # a word the log uses anyway
            assert new not in log


def test_no_validators_by_default(tmp_path):
    path = tmp_path / "site.sqlite3"
    env = dict(django_env(db_engine="sqlite3", db_name=path), DJ_PBKDF2_ITERATIONS="1000")
    p = subprocess.run(["/usr/bin/python3", "-c", MAKE_SITE], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    with Daemon(BUILD, tmp_path / "d", {"engine": "sqlite3", "name": str(path)},
                passwords={"allow_change": True}) as d:
        with d.client() as c:
            assert c.change_password_text("jsmith", "Old-pass-1", "1") == ("Ok", "password changed")


def test_unreadable_list_stops_the_daemon(tmp_path):
    d = Daemon(BUILD, tmp_path / "d", {"engine": "sqlite3", "name": str(tmp_path / "none.sqlite3")},
               passwords={"validators": "CommonPasswordValidator", "common_passwords": str(tmp_path / "nope.gz")})
    p = subprocess.run([str(BUILD / "django-authd"), "--config", str(d.config), "--check-config"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "passwords.common_passwords" in p.stderr and "nope.gz" in p.stderr, p
