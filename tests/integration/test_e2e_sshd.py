"""sshd end to end: a user who exists only in Django logs in over SSH, with
a password and with keyboard-interactive, and her session sees her Django
groups; wrong passwords, inactive users and users outside the stack's
require_group are refused; a local account (pam_unix) still logs in.

sshd runs in the e2e mount namespace (fixtures_e2e) on 127.0.0.1 and a free
port, with config/pam.d/sshd as its /etc/pam.d/sshd, as it is. The client is
OpenSSH's ssh through sshpass, outside the namespace.

Under the sanitizers sshd gets the ASan and UBSan runtimes preloaded
(fixtures_e2e.service_env), but a session's environment is sshd's fresh one:
the commands run in a session get them back through `env LD_PRELOAD=...`."""
import subprocess
import shutil

import pytest

from conftest import SANITIZE
from sysarch import ASAN_LIBS
from fixtures_e2e import Server, free_port, public_tempdir


LOCAL_USER, LOCAL_UID, LOCAL_PASSWORD = "lena", 64101, "local-pass-1"


class Sshd(Server):
    def __init__(self, e2e):
        self.e2e = e2e
        self.base = public_tempdir("djsshd-")
        self.port = free_port()
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.base / "hostkey")],
                       check=True, capture_output=True)
        (self.base / "sshd_config").write_text(f"""Port {self.port}
ListenAddress 127.0.0.1
HostKey {self.base}/hostkey
PidFile {self.base}/sshd.pid
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication yes
PubkeyAuthentication no
PermitRootLogin no
StrictModes no
PrintMotd no
MaxAuthTries 2
LogLevel VERBOSE
""")

    def start(self):
        ns = self.e2e.ns
        ns.pam_service("sshd", self.e2e.config_text("pam.d/sshd"))
        pw_hash = subprocess.run(["openssl", "passwd", "-6", LOCAL_PASSWORD], check=True,
                                 capture_output=True, text=True).stdout.strip()
        ns.local_user(LOCAL_USER, LOCAL_UID, pw_hash)
        ns.sh(f"mkdir -p /home/{LOCAL_USER} && chown +{LOCAL_UID}:+{LOCAL_UID} /home/{LOCAL_USER}")
        return self.launch(["/usr/sbin/sshd", "-D", "-e", "-f", str(self.base / "sshd_config")], "sshd.log")

    def log(self):
        return (self.base / "sshd.log").read_text(errors="replace")

    def ssh(self, user, password, method="password", command="id"):
        """Runs `command` as `user`; returns (exit code, stdout, stderr)."""
        if SANITIZE:
            assert "'" not in command
            command = "env LD_PRELOAD=%s ASAN_OPTIONS=detect_leaks=0 sh -c '%s'" % (":".join(ASAN_LIBS), command)
        args = ["sshpass", "-p", password, "ssh", "-F", "/dev/null", "-p", str(self.port),
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=60",
                "-o", "PreferredAuthentications=" + method, "-o", "PubkeyAuthentication=no",
                "-o", "NumberOfPasswordPrompts=1", "%s@127.0.0.1" % user, command]
        r = subprocess.run(args, capture_output=True, text=True, timeout=120)
        return r.returncode, r.stdout, r.stderr


@pytest.fixture(scope="module")
def sshd(e2e):
    s = Sshd(e2e)
    try:
        yield s.start()
    finally:
        s.stop()
        shutil.rmtree(s.base, ignore_errors=True)


@pytest.mark.parametrize("method", ["password", "keyboard-interactive"])
def test_django_user_logs_in_and_has_her_groups(sshd, e2e, method):
    rc, out, err = sshd.ssh("alice", "wonderland", method, "id; echo home=$HOME; pwd")
    assert rc == 0, err + sshd.log()[-3000:]
    uid = e2e.uid("alice")
    assert "uid=%d(alice)" % uid in out
    for g in ("developers", "sftp", "ssh-users", "ftp-users"):
        assert "%d(%s)" % (e2e.group_gid(g), g) in out, out
    assert "home=/home/alice" in out and "\n/home/alice\n" in out, out


@pytest.mark.parametrize("user,password,why", [
    ("alice", "not-her-password", "wrong password"),
    ("carol", "singer", "inactive in Django"),
    ("bob", "builder", "not in the Django group ssh-users"),
    ("nosuchuser", "wonderland", "unknown everywhere"),
])
@pytest.mark.parametrize("method", ["password", "keyboard-interactive"])
def test_refused(sshd, user, password, why, method):
    rc, out, err = sshd.ssh(user, password, method)
    assert rc == 255 and "uid=" not in out, "%s (%s) got in: %s" % (user, why, out)
    # refused in auth: "Permission denied"; in account: the connection is closed
    assert "Permission denied" in err or err == "" or "closed" in err, err


def test_bob_is_refused_by_the_access_rule(sshd, e2e):
    """bob's password is right, but "[access] sshd = ssh-users" leaves him out:
    the daemon answers as for an unknown user, after the same dummy hash."""
    sshd.ssh("bob", "builder")
    assert "Accepted password for bob" not in sshd.log()
    assert "user=bob service=sshd" in e2e.daemon.log_text()
    assert "not allowed by [access] sshd = ssh-users" in e2e.daemon.log_text()


def test_local_user_still_logs_in(sshd):
    rc, out, err = sshd.ssh(LOCAL_USER, LOCAL_PASSWORD, "password", "id -un")
    assert rc == 0 and out.strip() == LOCAL_USER, err + sshd.log()[-3000:]
    rc, out, err = sshd.ssh(LOCAL_USER, "wrong-local-pass", "password", "id -un")
    assert rc == 255


def test_django_account_cannot_take_over_a_local_name(sshd):
    """Django has accounts named "lena" and "root" too: their Django passwords
    open nothing, the local password still works."""
    rc, out, err = sshd.ssh(LOCAL_USER, "django-lena-pass", "password", "id -un")
    assert rc == 255, out
    rc, out, err = sshd.ssh("root", "django-root-pass", "password", "id -un")
    assert rc == 255, out
    rc, out, err = sshd.ssh(LOCAL_USER, LOCAL_PASSWORD, "password", "id -un")
    assert rc == 0 and out.strip() == LOCAL_USER, err + sshd.log()[-3000:]


def test_local_user_logs_in_while_the_daemon_is_down(sshd, e2e):
    e2e.daemon.stop()
    try:
        rc, out, err = sshd.ssh(LOCAL_USER, LOCAL_PASSWORD, "keyboard-interactive", "id -un")
        assert rc == 0 and out.strip() == LOCAL_USER, err + sshd.log()[-3000:]
        rc, out, err = sshd.ssh("alice", "wonderland")
        assert rc == 255
    finally:
        e2e.daemon.start()
