"""The end-to-end setting shared by the Apache, sshd and FTP tests: a small
Django site made by real Django (e2e_seed.py), django-authd over it, and a
private mount namespace laid out like an installed system:

  - /usr/lib/<multiarch>/libnss_django.so.2 and .../security/pam_django.so
    are the built modules (overlay), so the files of config/ are used as they
    are: PAM lines say plain `pam_django.so`, no socket= argument;
  - /run/django-auth is the daemon's socket directory;
  - /etc/nsswitch.conf takes its passwd and group lines from
    config/nsswitch.conf;
  - /home is a tmpfs holding the Django users' home directories.

    e2e                   session fixture: E2E (.ns, .daemon, .uid(name),
                          .config_text(path), .users)
    wait_port(port)       until something listens on 127.0.0.1:port
    free_port()           from fixtures_db
Service tests start their server inside e2e.ns and stop it themselves."""
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import BUILD, SANITIZE, TOP, django_env
from fixtures_daemon import GID_BASE, UID_BASE, Daemon
from fixtures_db import free_port  # noqa: F401  (re-exported for the service tests)
from mountns import MountNamespace
from sysarch import ASAN_LIBS

HERE = pathlib.Path(__file__).resolve().parent
CONFIG = TOP / "config"
PASSWORDS = {"alice": "wonderland", "bob": "builder", "carol": "singer", "admin": "admin-secret"}
PRIMARY_GID = 100


def wait_port(port, timeout=60, proc=None, host="127.0.0.1"):
    """Returns once a TCP connection to host:port succeeds; fails early if
    `proc` (the server) has exited."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited with %s before listening on %d" % (proc.returncode, port))
        try:
            with socket.create_connection((host, port), timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("nothing listens on %s:%d after %d s" % (host, port, timeout))


def stop_process(proc, timeout=20):
    """SIGTERM, then SIGKILL, to one process we started (by its pid)."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def service_env():
    """The environment for a server that loads the modules: under the
    sanitizers, the ASan and UBSan runtimes preloaded (the modules are built
    with them) and leak checking off (the server's own allocations at exit
    are not ours to judge)."""
    env = dict(os.environ)
    if SANITIZE:
        env["LD_PRELOAD"] = ":".join(ASAN_LIBS)
        env["ASAN_OPTIONS"] = "detect_leaks=0:halt_on_error=1:abort_on_error=0"
    return env


class Server:
    """What the e2e servers share: started in the test namespace with its
    output in base/<log_name>, waited for on its TCP port, stopped by pid.
    Subclasses set self.e2e, self.base and self.port."""
    proc = None
    logf = None

    def launch(self, argv, log_name):
        self.logf = open(self.base / log_name, "wb")
        self.proc = self.e2e.ns.popen(argv, stdout=self.logf, stderr=self.logf, env=service_env())
        wait_port(self.port, proc=self.proc)
        return self

    def stop(self):
        stop_process(self.proc)
        if self.logf is not None:
            self.logf.close()


def public_tempdir(prefix):
    """A temporary directory every user can enter (service workers run as
    www-data, ftp, sshd...); pytest's own are 0700."""
    d = pathlib.Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(d, 0o755)
    return d


class E2E:
    def __init__(self, ns, daemon, ids, workdir):
        self.ns, self.daemon, self.ids, self.workdir = ns, daemon, ids, workdir
        self.passwords = PASSWORDS

    def uid(self, name):
        return UID_BASE + self.ids[name][0]

    def group_gid(self, group):
        return GID_BASE + self.ids["@" + group][0]

    @staticmethod
    def config_text(relpath):
        return (CONFIG / relpath).read_text()


def _ids(db):
    """Django ids of users and (prefixed with '@') groups."""
    import sqlite3
    con = sqlite3.connect(str(db))
    try:
        out = {n: (i,) for i, n in con.execute("SELECT id, username FROM auth_user")}
        out.update({"@" + n: (i,) for i, n in con.execute("SELECT id, name FROM auth_group")})
        return out
    finally:
        con.close()


def _nsswitch_lines():
    """The passwd and group sources of config/nsswitch.conf."""
    lines = {}
    for line in (CONFIG / "nsswitch.conf").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if ":" in line:
            key, _, value = line.partition(":")
            lines[key.strip()] = " ".join(value.split())
    return lines["passwd"], lines["group"]


@pytest.fixture(scope="session")
def e2e(tmp_path_factory):
    work = tmp_path_factory.mktemp("e2e")
    db = work / "db.sqlite3"
    r = subprocess.run(["/usr/bin/python3", str(HERE / "e2e_seed.py")],
                       env=django_env(db_engine="sqlite3", db_name=db),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    # Who may log in where, as the README's guides say for each service.
    access = {"default": "", "sshd": "ssh-users", "vsftpd": "ftp-users", "django-web": "*",
              "django-web-developers": "*"}
    # Keys for sshd's AuthorizedKeysCommand from django-sshkey's table
    # (test_e2e_sshd_keys.py); nobody, the default [ssh] clients, asks.
    daemon = Daemon(BUILD, work / "authd", dict(engine="sqlite3", name=str(db)), access=access,
                    ssh={"authorized_keys": True})
    daemon.start()
    ns = None
    try:
        ns = MountNamespace(public_tempdir("djns-e2e-"))
        ns.private_run()
        ns.daemon_socket_dir(daemon.socket.parent)
        ns.modules(BUILD)
        passwd, group = _nsswitch_lines()
        ns.nsswitch(passwd=passwd, group=group)
        ids = _ids(db)
        ns.homes({name: (UID_BASE + ids[name][0], PRIMARY_GID) for name in PASSWORDS})
        yield E2E(ns, daemon, ids, work)
    finally:
        if ns is not None:
            ns.close()
        rc = daemon.stop()
        log = daemon.log_text()
        daemon.cleanup()
    assert rc == 0, log
