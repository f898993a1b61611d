"""The site's own hasher parameters. A Debian Django 3.2 site (real Django:
pbkdf2_sha256 at its 260,000 iterations, argon2 with argon2-cffi 21.1's
16-byte tags) and a daemon whose [passwords] names no work factor: the daemon
takes the site's parameters off its stored hashes, so a failed login costs
what it costs the site's Django (not a top-up to our 1,200,000), a login with
rehash_on_login leaves the site's hashes alone, and django-authctl status
says where each parameter comes from. No hash reaches the log."""
import json
import signal
import statistics
import subprocess
import time

from conftest import BUILD, django_env
from fixtures_daemon import Daemon

AUTHCTL = BUILD / "django-authctl"

# A fresh site made by Django 3.2 with its defaults: three pbkdf2_sha256
# users and one argon2 user (Django's Argon2PasswordHasher).
MAKE_SITE = r'''
import json, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
for i in range(3):
    User.objects.create_user("site%d" % i, password="pw-%d" % i)
User.objects.create_user("argon", password=None).__class__.objects.filter(username="argon").update(
    password=make_password("pw-argon", hasher="argon2"))
print(json.dumps({u.username: u.password for u in User.objects.all()}))
'''

CHECK = r'''
import json, sys, django
django.setup()
from django.contrib.auth.models import User
print(json.dumps({u.username: u.password for u in User.objects.all()}))
'''


def make_site(tmp_path):
    path = tmp_path / "site.sqlite3"
    env = django_env(db_engine="sqlite3", db_name=path)
    env.pop("DJ_PBKDF2_ITERATIONS", None)
    p = subprocess.run(["/usr/bin/python3", "-c", MAKE_SITE], env=env, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    return path, env, json.loads(p.stdout)


def stored(env):
    p = subprocess.run(["/usr/bin/python3", "-c", CHECK], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def status(d):
    p = subprocess.run([str(AUTHCTL), "status", "--socket", str(d.socket)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def median_ms(c, user, password, expect, n=7):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        assert c.authenticate(user, password) == expect
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def test_site_parameters(tmp_path):
    path, env, before = make_site(tmp_path)
    assert before["site0"].startswith("pbkdf2_sha256$260000$")
    assert before["argon"].startswith("argon2$argon2id$v=19$m=102400,t=2,p=8$")
    with Daemon(BUILD, tmp_path / "d", {"engine": "sqlite3", "name": str(path)},
                passwords={"pbkdf2_iterations": None, "rehash_on_login": True}) as d:
        text = status(d)
        assert "hash_pbkdf2 iterations=260000 (site: strongest stored)\n" in text, text
        assert ("hash_argon2 time_cost=2 memory_cost=102400 parallelism=8 hash_len=16 "
                "(site: strongest stored)\n") in text, text
        assert "hash_bcrypt rounds=12 (library default)\n" in text, text
        assert "hash_scrypt n=16384 r=8 p=5 (library default)\n" in text, text
        assert "site_values 4\n" in text, text
        with d.client() as c:
            ok = median_ms(c, "site1", "pw-1", "Ok")
            wrong = median_ms(c, "site1", "pw-1x", "WrongPassword")
            unknown = median_ms(c, "nobody-here", "pw", "NoUser")
            assert c.authenticate("site0", "pw-0") == "Ok"
            assert c.authenticate("argon", "pw-argon") == "Ok"
        # A failure costs one hash at the site's count, as in its Django.
        assert wrong < 2 * ok and unknown < 2 * ok, (ok, wrong, unknown)
        log = d.log_text()
    # rehash_on_login left the site's own pbkdf2 hashes alone (they are what
    # its Django writes), and moved the argon2 one to the preferred hasher at
    # the site's count, as its Django's login would.
    after = stored(env)
    assert {k: v for k, v in after.items() if k != "argon"} == {k: v for k, v in before.items() if k != "argon"}
    assert after["argon"].startswith("pbkdf2_sha256$260000$")
    assert "hasher parameters from 4 stored values: hash_pbkdf2 iterations=260000" in log
    for value in before.values():
        for part in value.split("$")[2:]:
            if len(part) >= 8:
                assert part not in log


def test_config_wins_and_flush_reads_again(tmp_path):
    path, env, before = make_site(tmp_path)
    with Daemon(BUILD, tmp_path / "d", {"engine": "sqlite3", "name": str(path)},
                passwords={"pbkdf2_iterations": 300000, "argon2_time_cost": 3, "rehash_on_login": True}) as d:
        text = status(d)
        assert "hash_pbkdf2 iterations=300000 (config)\n" in text, text
        assert ("hash_argon2 time_cost=3 memory_cost=102400 parallelism=8 hash_len=16 "
                "(config + site: strongest stored)\n") in text, text
        with d.client() as c:
            assert c.authenticate("site2", "pw-2") == "Ok"
        after = stored(env)
        assert after["site2"].startswith("pbkdf2_sha256$300000$")
        assert after["site0"] == before["site0"]
        # The rewritten value is now the site's strongest: a flush reads it.
        with d.client() as c:
            assert c.flush() == "Ok"
        assert "site_values 4\n" in status(d)


RAISE = r'''
import sys, django
django.setup()
from django.contrib.auth.models import User
u = User.objects.get(username="site0"); u.set_password("pw-0"); u.save()
print(u.password.split("$")[1])
'''


def test_sighup_reads_again(tmp_path):
    """The site's Django raised its count (a new release): a SIGHUP makes the
    daemon read the stored hashes again at once."""
    path, env, _ = make_site(tmp_path)
    with Daemon(BUILD, tmp_path / "d", {"engine": "sqlite3", "name": str(path)},
                passwords={"pbkdf2_iterations": None}) as d:
        assert "hash_pbkdf2 iterations=260000 (site: strongest stored)\n" in status(d)
        p = subprocess.run(["/usr/bin/python3", "-c", RAISE], capture_output=True, text=True, timeout=60,
                           env=dict(env, DJ_PBKDF2_ITERATIONS="270000"))
        assert p.returncode == 0 and p.stdout.strip() == "270000", p.stderr
        assert "iterations=260000" in status(d)
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while "hash_pbkdf2 iterations=270000 (site: strongest stored)\n" not in status(d):
            assert time.time() < deadline, status(d)
            time.sleep(0.2)
