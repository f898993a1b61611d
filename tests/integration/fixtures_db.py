"""Database fixtures: a throwaway PostgreSQL 15 cluster for the session, and a
Django-made test population (schema by migrate, users, groups, permissions)
that can be put into a SQLite file or a PostgreSQL database, with real
Django's answers about it.

    pg_cluster             session fixture: PgCluster (start/stop/psql/createdb)
    population_spec()      the population: 230 users with mixed hashers, active
                           and inactive, staff, superusers, unusable passwords,
                           names NSS cannot carry; groups and permissions
    build_population(env, expected_path)
                           migrate + populate the database of `env`
                           (conftest.django_env(...)), then compute Django's
                           answers on a copy and return them (dict)
    sqlite_population      session fixture: Population on a SQLite file
                           (make_sqlite_population(dir) outside pytest)
    pg_population          session fixture: Population in PostgreSQL
"""
import json
import os
import pathlib
import random
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import django_env

HERE = pathlib.Path(__file__).resolve().parent
PG_BIN = pathlib.Path("/usr/lib/postgresql/15/bin")
PBKDF2_ITERATIONS = 1000
DJANGO_PASSWORD = "dj-test-pw"   # the PostgreSQL role's password (tests only)

GROUPS = ["staff-team", "devs", "ops", "editors", "readers", "auditors", "sales", "support",
          "empty-group", "with space", "bad:group", "-dash-group", "zoë-fans"]
PERMS = ["auth.add_user", "auth.change_user", "auth.view_group", "auth.delete_permission",
         "contenttypes.view_contenttype"]
PROBE_PERMS = PERMS + ["auth.view_user", "nosuch.thing"]
HASHERS = ["pbkdf2_sha256"] * 5 + ["pbkdf2_sha1", "argon2", "bcrypt_sha256", "scrypt", "pbkdf2_sha256"]


def population_spec(n_users=230, seed=1234):
    rnd = random.Random(seed)
    users = []
    for i in range(1, n_users + 1):
        users.append(dict(
            username="user%03d" % i,
            password="pw-%03d-%s" % (i, rnd.choice(["secret", "Pässwörd", "a b c", "x#;y"])),
            hasher="unusable" if i % 23 == 5 else HASHERS[i % len(HASHERS)],
            is_active=(i % 7 != 3),
            is_staff=(i % 5 == 0),
            is_superuser=(i % 17 == 0),
            first_name=rnd.choice(["", "Ann", "Bob", "Zoë", "Jean-Luc"]),
            last_name=rnd.choice(["", "Smith", "O:Neil", "van der Berg"]),
            groups=sorted(rnd.sample(GROUPS, rnd.randint(0, 3))),
            perms=sorted(rnd.sample(PERMS, rnd.randint(0, 2))) if i % 4 == 0 else [],
        ))
    # Names Django accepts in the database but NSS cannot carry.
    for j, name in enumerate(["bad:name", "-dash", "sp ace", "zoë", "+plus", "comma,name"]):
        users.append(dict(username=name, password="odd-%d" % j, hasher="pbkdf2_sha256", is_active=True,
                          is_staff=False, is_superuser=False, first_name="", last_name="",
                          groups=["devs"], perms=[]))
    group_perms = {"devs": ["auth.view_group"], "ops": ["auth.change_user", "auth.view_group"],
                   "auditors": ["contenttypes.view_contenttype"], "staff-team": ["auth.add_user"]}
    return dict(users=users, groups=GROUPS, group_perms=group_perms, probe_perms=PROBE_PERMS,
                ghosts=["nobody-here", "USER001", "user001 "])


def run_django(env, *args, timeout=300):
    r = subprocess.run(["/usr/bin/python3", str(HERE / "django_population.py"), *args], env=env,
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("django_population.py %s failed:\n%s%s" % (args[0], r.stdout, r.stderr))


def build_population(env, copy_env, spec, workdir, make_copy):
    """Populates the database of `env`; copies it (make_copy()), computes
    Django's answers on the copy (`copy_env`) and returns them."""
    workdir = pathlib.Path(workdir)
    spec_path = workdir / "spec.json"
    spec_path.write_text(json.dumps(spec))
    env = dict(env, DJ_PBKDF2_ITERATIONS=str(PBKDF2_ITERATIONS))
    copy_env = dict(copy_env, DJ_PBKDF2_ITERATIONS=str(PBKDF2_ITERATIONS))
    run_django(env, "populate", str(spec_path))
    make_copy()
    out = workdir / "expected.json"
    run_django(copy_env, "expect", str(spec_path), str(out))
    return json.loads(out.read_text())


class Population:
    """A populated database: .engine, .db_section (for django-auth.conf
    [database]), .spec, .expected (Django's answers), .env (django_env)."""

    def __init__(self, engine, db_section, spec, expected, env):
        self.engine, self.db_section, self.spec, self.expected, self.env = engine, db_section, spec, expected, env

    def password(self, username):
        for u in self.spec["users"]:
            if u["username"] == username:
                return u["password"]
        raise KeyError(username)


def free_port(lo=18000, hi=18999):
    for _ in range(200):
        port = random.randint(lo, hi)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port")


class PgCluster:
    def __init__(self):
        self.base = pathlib.Path(tempfile.mkdtemp(prefix="djauth-pg-"))
        os.chmod(self.base, 0o755)
        self.sock = self.base / "sock"
        self.sock.mkdir()
        self.data = self.base / "data"
        self.port = free_port()
        shutil.chown(self.base, "postgres", "postgres")
        shutil.chown(self.sock, "postgres", "postgres")
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "--auth-local=trust",
                 "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        # Local socket connections need the password too, like a real server.
        hba = self.data / "pg_hba.conf"
        hba.write_text("local all postgres trust\nlocal all all scram-sha-256\n"
                       "host all all 127.0.0.1/32 scram-sha-256\n")
        self.start()
        self.psql("CREATE ROLE django LOGIN PASSWORD '%s'" % DJANGO_PASSWORD)

    def _pg(self, tool, *args, check=True):
        return subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / tool), *args],
                              capture_output=True, text=True, check=check, timeout=60)

    def start(self):
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.base / "log"), "-w", "-o",
                 "-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c max_connections=200"
                 % (self.port, self.sock), "start")

    def stop(self):
        self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def psql(self, *sql, db="postgres"):
        args = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(self.sock), "-p", str(self.port),
                "-U", "postgres", "-d", db]
        for s in sql:
            args += ["-c", s]
        r = subprocess.run(["runuser", "-u", "postgres", "--", "/usr/bin/psql"] + args[1:],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("psql failed: %s" % r.stderr)
        return r.stdout

    def createdb(self, name, template=None):
        self.psql("CREATE DATABASE \"%s\" OWNER django%s" % (name, " TEMPLATE \"%s\"" % template if template else ""))

    def env(self, name):
        return django_env(db_engine="postgresql", db_name=name, db_host=self.sock, db_port=self.port,
                          db_user="django", db_password=DJANGO_PASSWORD)

    def db_section(self, name):
        return dict(engine="postgresql", name=name, host=str(self.sock), port=str(self.port), user="django",
                    password=DJANGO_PASSWORD)

    def destroy(self):
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster():
    c = PgCluster()
    yield c
    c.destroy()


@pytest.fixture(scope="session")
def sqlite_population(tmp_path_factory):
    return make_sqlite_population(tmp_path_factory.mktemp("sqlite-pop"))


def make_sqlite_population(d):
    """The population on a SQLite file in directory `d` (also for bench/)."""
    d = pathlib.Path(d)
    path, copy = d / "db.sqlite3", d / "copy.sqlite3"
    spec = population_spec()
    expected = build_population(django_env(db_engine="sqlite3", db_name=path),
                                django_env(db_engine="sqlite3", db_name=copy), spec, d,
                                lambda: shutil.copyfile(path, copy))
    return Population("sqlite3", dict(engine="sqlite3", name=str(path)), spec, expected,
                      django_env(db_engine="sqlite3", db_name=path))


@pytest.fixture(scope="session")
def pg_population(pg_cluster, tmp_path_factory):
    d = tmp_path_factory.mktemp("pg-pop")
    pg_cluster.createdb("site")
    spec = population_spec()

    def copy():
        pg_cluster.createdb("site_copy", template="site")

    expected = build_population(pg_cluster.env("site"), pg_cluster.env("site_copy"), spec, d, copy)
    return Population("postgresql", pg_cluster.db_section("site"), spec, expected, pg_cluster.env("site"))


class PgBouncer:
    """PgBouncer in transaction pooling mode in front of `cluster`'s database
    `dbname` (the same name for clients), on 127.0.0.1:port, for the role
    django; .stop() ends it and removes its directory."""
    BINARY = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"

    def __init__(self, cluster, dbname, pool_size, ports=(19000, 19999)):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="djauth-pgb-"))
        self.port = free_port(*ports)
        (self.dir / "userlist.txt").write_text('"django" "%s"\n' % DJANGO_PASSWORD)
        (self.dir / "pgbouncer.ini").write_text(
            "[databases]\n%s = host=%s port=%d dbname=%s\n"
            "[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = %d\nunix_socket_dir =\n"
            "auth_type = scram-sha-256\nauth_file = %s/userlist.txt\npool_mode = transaction\n"
            "default_pool_size = %d\nmax_client_conn = 200\nserver_reset_query =\n"
            "logfile = %s/pgbouncer.log\npidfile = %s/pgbouncer.pid\n"
            % (dbname, cluster.sock, cluster.port, dbname, self.port, self.dir, pool_size, self.dir, self.dir))
        shutil.chown(self.dir, "postgres", "postgres")
        for f in self.dir.iterdir():
            shutil.chown(f, "postgres", "postgres")
        self.proc = subprocess.Popen(["runuser", "-u", "postgres", "--", self.BINARY, str(self.dir / "pgbouncer.ini")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
