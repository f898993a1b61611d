"""The write switches of django-authd (all off by default), checked with real
Django afterwards: password change, rehash on login, last_login. Also: the
daemon reads a SQLite file correctly while Django writes to it."""
import json
import shutil
import subprocess
import threading

from conftest import BUILD, django_env
from fixtures_daemon import Daemon

CHECK = r'''
import json, sys, django
django.setup()
from django.contrib.auth.models import User
u = User.objects.get(username=sys.argv[1])
print(json.dumps({"algorithm": u.password.split("$")[0], "last_login": u.last_login is not None,
                  "ok": u.check_password(sys.argv[2])}))
'''


def django_view(env, user, password):
    r = subprocess.run(["/usr/bin/python3", "-c", CHECK, user, password], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def copy_db(sqlite_population, tmp_path):
    path = tmp_path / "db.sqlite3"
    shutil.copyfile(sqlite_population.db_section["name"], path)
    return path, dict(django_env(db_engine="sqlite3", db_name=path), DJ_PBKDF2_ITERATIONS="1000")


def pick(pop, hasher):
    return next(u for u in pop.spec["users"] if u["hasher"] == hasher and pop.expected["users"][u["username"]]["right"])


def test_switches_off_write_nothing(sqlite_population, tmp_path):
    path, env = copy_db(sqlite_population, tmp_path)
    u = pick(sqlite_population, "pbkdf2_sha1")
    with Daemon(BUILD, tmp_path / "d", {"engine": "sqlite3", "name": str(path)}) as d:
        with d.client() as c:
            assert c.authenticate(u["username"], u["password"]) == "Ok"
            assert c.change_password(u["username"], u["password"], "new") == "Disabled"
    view = django_view(env, u["username"], u["password"])
    assert view == {"algorithm": "pbkdf2_sha1", "last_login": False, "ok": True}


def test_rehash_and_last_login(sqlite_population, tmp_path):
    path, env = copy_db(sqlite_population, tmp_path)
    u = pick(sqlite_population, "argon2")
    with Daemon(BUILD, tmp_path / "d", {"engine": "sqlite3", "name": str(path)},
                passwords={"rehash_on_login": True, "update_last_login": True}) as d:
        with d.client() as c:
            assert c.authenticate(u["username"], u["password"] + "x") == "WrongPassword"
            assert c.authenticate(u["username"], u["password"]) == "Ok"
            assert c.authenticate(u["username"], u["password"]) == "Ok"
    # Django reads what the daemon wrote: the preferred hasher, and a last_login.
    assert django_view(env, u["username"], u["password"]) == {"algorithm": "pbkdf2_sha256", "last_login": True,
                                                               "ok": True}


def test_change_password(sqlite_population, tmp_path):
    path, env = copy_db(sqlite_population, tmp_path)
    u = pick(sqlite_population, "bcrypt_sha256")
    with Daemon(BUILD, tmp_path / "d", {"engine": "sqlite3", "name": str(path)},
                passwords={"allow_change": True}) as d:
        with d.client() as c:
            assert c.change_password(u["username"], "wrong", "n3w pässword") == "WrongPassword"
            assert c.change_password(u["username"], u["password"], "", flags=1) == "Ok"
            assert c.change_password(u["username"], u["password"], "n3w pässword") == "Ok"
            assert c.authenticate(u["username"], "n3w pässword") == "Ok"
            assert c.authenticate(u["username"], u["password"]) == "WrongPassword"
    view = django_view(env, u["username"], "n3w pässword")
    assert view["ok"] and view["algorithm"] == "pbkdf2_sha256"


WRITER = r'''
import sys, django
django.setup()
from django.contrib.auth.models import User
for i in range(int(sys.argv[1])):
    User.objects.create(username="new%04d" % i, password="!")
    u = User.objects.get(username="user002"); u.first_name = "F%d" % i; u.save()
'''


def test_sqlite_reads_while_django_writes(sqlite_population, tmp_path):
    path, env = copy_db(sqlite_population, tmp_path)
    with Daemon(BUILD, tmp_path / "d", {"engine": "sqlite3", "name": str(path)},
                cache={"positive_ttl": 0, "negative_ttl": 0}) as d:
        writer = subprocess.Popen(["/usr/bin/python3", "-c", WRITER, "100"], env=env)
        bad = []

        def reader():
            with d.client() as c:
                while writer.poll() is None:
                    for name in ("user001", "user003", "user007"):
                        r = c.pw_by_name(name)
                        if not isinstance(r, dict):
                            bad.append(r)
        threads = [threading.Thread(target=reader) for _ in range(3)]
        for t in threads:
            t.start()
        writer.wait(timeout=120)
        for t in threads:
            t.join()
        assert writer.returncode == 0
        assert not bad
        with d.client() as c:
            assert c.pw_by_name("new0099")["name"] == "new0099"
