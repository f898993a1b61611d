"""Running django-authd for tests.

    Daemon(build, workdir, database, **sections)
        .start() / .stop() / .restart(); .socket, .config, .log_text(),
        .client() (a djproto.Client), .db (the Population, when given)
        The config file is generated (mode 0600, owned by root), the socket
        lives in the work directory, the daemon runs in the foreground with
        its stderr in workdir/daemon.log.
    write_config(path, sections)     an INI file from {section: {key: value}}
    daemon_sqlite                    session fixture: a Daemon over the SQLite
                                     population (fixtures_db.sqlite_population),
                                     .db is the Population with .expected
    daemon_pg                        the same over PostgreSQL
    daemon_mysql                     the same over MariaDB (fixtures_mysql.py)
Other parts of the suite (NSS, PAM) reuse daemon_sqlite: it answers for the
population's users (uid = 200000 + Django id, gid = 200000 + group id,
primary group 100), and allows uid 0 and www-data to authenticate."""
import os
import pathlib
import signal
import shutil
import subprocess
import tempfile
import time

import pytest

import djproto
from conftest import BUILD, SANITIZE

UID_BASE = 200000
GID_BASE = 200000


# A client for tests of who may do what: a child Python run as another user,
# with djproto in it, where send(data) sends raw bytes on a new connection to
# the daemon at sys.argv[1] and returns the answer's status byte (-1: closed
# unanswered), call(op, body) sends one request, s(text) and u32(n) encode
# fields. The test appends its own lines.
CHILD_CLIENT = r'''
import sys
s, u32 = _str, _u32
def send(data):
    with socket.socket(socket.AF_UNIX) as c:
        c.settimeout(20)
        c.connect(sys.argv[1])
        c.sendall(data)
        p = read_frame(c)
    return p[2] if p is not None and len(p) > 2 else -1
def call(op, body):
    return send(frame(op, body))
'''


def setpriv(user):
    """The command prefix that runs a program as `user` (a name, with its
    group, nobody's being nogroup; or a number, with the group of the same
    number) and no supplementary groups."""
    if isinstance(user, int):
        ids = ["--reuid=%d" % user, "--regid=%d" % user]
    else:
        ids = ["--reuid=" + user, "--regid=" + ("nogroup" if user == "nobody" else user)]
    return ["setpriv", *ids, "--clear-groups"]


def run_as(user, socket_path, lines, *args, timeout=30):
    """Runs CHILD_CLIENT followed by `lines` as `user` (see setpriv) against
    the daemon at socket_path; further args follow it in sys.argv."""
    return subprocess.run(setpriv(user) + ["/usr/bin/python3", "-c", djproto.source() + CHILD_CLIENT + lines,
                                           str(socket_path), *[str(a) for a in args]],
                          capture_output=True, text=True, timeout=timeout)


def run_as_nobody(socket_path, lines):
    return run_as("nobody", socket_path, lines)


def write_config(path, sections):
    path = pathlib.Path(path)
    lines = []
    for section, keys in sections.items():
        lines.append("[%s]" % section)
        for k, v in keys.items():
            if v is None:
                continue  # a key a test takes out of the defaults
            if isinstance(v, bool):
                v = "yes" if v else "no"
            if isinstance(v, (list, tuple)):
                v = ", ".join(v)
            lines.append("%s = %s" % (k, v))
        lines.append("")
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines))
    os.chmod(path, 0o600)
    os.chown(path, 0, 0)
    return path


class Daemon:
    def __init__(self, build, workdir, database, population=None, binary=None, **sections):
        self.build = pathlib.Path(build)
        self.workdir = pathlib.Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        # The socket's directory is reachable by every user (tests run clients
        # as nobody); pytest's own temporary directories are not.
        self.sockdir = pathlib.Path(tempfile.mkdtemp(prefix="djauth-sock-"))
        os.chmod(self.sockdir, 0o755)
        self.socket = self.sockdir / "run" / "socket"
        self.config = self.workdir / "django-auth.conf"
        self.logfile = self.workdir / "daemon.log"
        self.db = population
        self.binary = binary or self.build / "django-authd"
        self.proc = None
        self.extra_env = {}   # for the daemon's environment (e.g. a shifted clock)
        conf = {
            "database": dict({"connect_timeout": 2, "query_timeout": 5}, **database),
            "daemon": {"socket": str(self.socket), "auth_clients": "www-data"},
            "cache": {"positive_ttl": 60, "negative_ttl": 10},
            "passwords": {"hashers": "pbkdf2_sha256, pbkdf2_sha1, argon2, bcrypt_sha256, scrypt",
                          "pbkdf2_iterations": 1000},
            "nss": {"uid_base": UID_BASE, "gid_base": GID_BASE, "primary_group": 100},
            # Most tests fail many logins on purpose; the throttle tests
            # (test_abuse.py) turn it on.
            "throttle": {"deny": 0, "client_deny": 0},
            # Every active user through every service: the tests of who may
            # log in where (test_trust_boundary.py) set their own rules.
            "access": {"default": "*"},
        }
        for name, keys in sections.items():
            conf.setdefault(name, {}).update(keys)
        self.sections = conf
        write_config(self.config, conf)

    def start(self, timeout=20):
        self._log = open(self.logfile, "ab")
        env = dict(os.environ)
        if SANITIZE:
            env.setdefault("ASAN_OPTIONS", "detect_leaks=1:halt_on_error=1")
        env.update(self.extra_env)
        self.proc = subprocess.Popen([str(self.binary), "--config", str(self.config), "--foreground"],
                                     stdout=self._log, stderr=self._log, env=env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("django-authd exited %s:\n%s" % (self.proc.returncode, self.log_text()))
            try:
                with djproto.Client(self.socket, timeout=2) as c:
                    if c.hello()[0] == "Ok":
                        return self
            except (OSError, djproto.ProtocolError):
                time.sleep(0.05)
        raise RuntimeError("django-authd did not come up:\n" + self.log_text())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None
        return rc

    def restart(self):
        self.stop()
        return self.start()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def client(self, timeout=10):
        return djproto.Client(self.socket, timeout=timeout)

    def open_fds(self):
        """How many descriptors the daemon has open (/proc/PID/fd)."""
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def settle_fds(self, baseline, timeout=15):
        """Waits for the daemon's open descriptors to fall back to `baseline`
        (closed connections are reaped by its event loops); returns the last
        count seen."""
        deadline = time.time() + timeout
        n = self.open_fds()
        while n > baseline and time.time() < deadline:
            time.sleep(0.1)
            n = self.open_fds()
        return n

    def wait_database(self, timeout=15):
        """Waits for the daemon's circuit breaker to close (its probe found
        the database answering: django-authd(8), DATABASE FAILURES); returns
        whether it did."""
        deadline = time.time() + timeout
        while True:
            with self.client() as c:
                if c.stats().get("database_available") == "yes":
                    return True
            if time.time() >= deadline:
                return False
            time.sleep(0.2)

    def log_text(self):
        try:
            return self.logfile.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.sockdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, *a):
        log = self.log_text()
        rc = self.stop()
        self.cleanup()
        # A clean stop exits 0 (under the sanitizers: no leak, no error).
        if exc_type is None:
            assert rc == 0, "django-authd exited %s:\n%s" % (rc, log)


def session_daemon(population, workdir):
    """A daemon over `population` for a session fixture to yield from."""
    d = Daemon(BUILD, workdir, population.db_section, population)
    d.start()
    yield d
    rc = d.stop()
    d.cleanup()
    assert rc == 0, d.log_text()


@pytest.fixture(scope="session")
def daemon_sqlite(sqlite_population, tmp_path_factory):
    yield from session_daemon(sqlite_population, tmp_path_factory.mktemp("authd-sqlite"))


@pytest.fixture(scope="session")
def daemon_pg(pg_population, tmp_path_factory):
    yield from session_daemon(pg_population, tmp_path_factory.mktemp("authd-pg"))
