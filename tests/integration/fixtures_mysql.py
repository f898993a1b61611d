"""MariaDB fixtures: a throwaway MariaDB server for the session (Debian's
mariadb-server, private datadir, socket in a temporary directory, TCP on
loopback), the test population in it made by real Django (python3-mysqldb),
and a daemon over it.

    MariaDB()              .start() .stop() .kill() .sql(...) .createdb(name)
                           .env(name) (django_env) .db_section(name) (for [database])
    mariadb                session fixture: the running server
    mysql_population       session fixture: the population (fixtures_db), with
                           Django-on-MariaDB's answers, also for other spellings
                           of stored names (.spec["spellings"]: typed -> stored)
    daemon_mysql           session fixture: a Daemon over it (engine = mysql)
"""
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import django_env
from fixtures_daemon import session_daemon
from fixtures_db import Population, build_population, free_port, population_spec

DJANGO_PASSWORD = "dj-test-pw"   # the MariaDB account's password (tests only)

# Other spellings of stored names, and the name MariaDB's default collation
# (utf8mb4_general_ci: case-insensitive, PAD SPACE) finds for them. Django's
# answers for each are computed, not assumed.
SPELLINGS = {"USER001": "user001", "User002": "user002", "user004 ": "user004", "ZOË": "zoë", "Zoe": "zoë"}


class MariaDB:
    def __init__(self):
        self.base = pathlib.Path(tempfile.mkdtemp(prefix="djauth-my-"))
        os.chmod(self.base, 0o755)
        shutil.chown(self.base, "mysql", "mysql")
        self.data = self.base / "data"
        self.sock = self.base / "sock"
        self.port = free_port(19000, 19499)
        self.proc = None
        r = subprocess.run(["mariadb-install-db", "--no-defaults", "--user=mysql", "--datadir=%s" % self.data,
                            "--auth-root-authentication-method=socket", "--skip-test-db"],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("mariadb-install-db failed:\n%s%s" % (r.stdout, r.stderr))
        try:
            self.start()
            self.sql("CREATE USER 'django'@'localhost' IDENTIFIED BY '%s'" % DJANGO_PASSWORD,
                     "CREATE USER 'django'@'127.0.0.1' IDENTIFIED BY '%s'" % DJANGO_PASSWORD,
                     "GRANT ALL ON *.* TO 'django'@'localhost'", "GRANT ALL ON *.* TO 'django'@'127.0.0.1'")
        except BaseException:
            self.destroy()
            raise

    def start(self, timeout=60):
        log = open(self.base / "server.log", "ab")
        self.proc = subprocess.Popen(
            ["mariadbd", "--no-defaults", "--user=mysql", "--datadir=%s" % self.data, "--socket=%s" % self.sock,
             "--port=%d" % self.port, "--bind-address=127.0.0.1", "--pid-file=%s" % (self.base / "pid"),
             "--log-error=%s" % (self.base / "err.log"), "--skip-name-resolve", "--skip-log-bin",
             "--innodb-buffer-pool-size=32M", "--innodb-flush-log-at-trx-commit=0", "--max-connections=300",
             "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci"],
            stdout=log, stderr=log)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mariadbd exited:\n" + (self.base / "err.log").read_text(errors="replace"))
            if self.sock.exists() and self._client("SELECT 1", check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("mariadbd did not come up")

    def stop(self):
        """A clean shutdown (connections closed by the server)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)
        self.proc = None

    def kill(self):
        """The server dies (SIGKILL): connections are cut without a word."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.proc = None

    def _client(self, *sql, db=None, check=True, stdin=None):
        args = ["mariadb", "--no-defaults", "--socket=%s" % self.sock, "-u", "root", "--batch", "--skip-column-names",
                "--default-character-set=utf8mb4"]
        if db:
            args.append(db)
        if sql:
            args += ["-e", ";\n".join(sql)]
        r = subprocess.run(args, capture_output=True, text=True, timeout=120, input=stdin)
        if check and r.returncode != 0:
            raise RuntimeError("mariadb failed: %s" % r.stderr)
        return r

    def sql(self, *statements, db=None):
        return self._client(*statements, db=db).stdout

    def createdb(self, name, charset="utf8mb4"):
        self.sql("CREATE DATABASE `%s` CHARACTER SET %s" % (name, charset))

    def copydb(self, src, dest):
        dump = subprocess.run(["mariadb-dump", "--no-defaults", "--socket=%s" % self.sock, "-u", "root",
                               "--default-character-set=utf8mb4", src],
                              capture_output=True, text=True, timeout=120, check=True).stdout
        self.createdb(dest)
        self._client(db=dest, stdin=dump)

    def env(self, name):
        return django_env(db_engine="mysql", db_name=name, db_host=self.sock, db_user="django",
                          db_password=DJANGO_PASSWORD)

    def db_section(self, name, tcp=False):
        host = dict(host="127.0.0.1", port=str(self.port)) if tcp else dict(host=str(self.sock))
        return dict(engine="mysql", name=name, user="django", password=DJANGO_PASSWORD, **host)

    def destroy(self):
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="session")
def mariadb():
    m = MariaDB()
    yield m
    m.destroy()


def make_mysql_population(server, workdir, name="site"):
    server.createdb(name)
    spec = population_spec()
    # On MariaDB these spellings are not ghosts: Django finds the stored user.
    spec["ghosts"] = ["nobody-here"]
    spec["spellings"] = SPELLINGS
    expected = build_population(server.env(name), server.env(name + "_copy"), spec, workdir,
                                lambda: server.copydb(name, name + "_copy"))
    return Population("mysql", server.db_section(name), spec, expected, server.env(name))


@pytest.fixture(scope="session")
def mysql_population(mariadb, tmp_path_factory):
    return make_mysql_population(mariadb, tmp_path_factory.mktemp("my-pop"))


@pytest.fixture(scope="session")
def daemon_mysql(mysql_population, tmp_path_factory):
    yield from session_daemon(mysql_population, tmp_path_factory.mktemp("authd-my"))
