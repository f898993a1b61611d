"""sshd end to end with public keys from Django: sshd's AuthorizedKeysCommand
is `django-authctl authorized-keys %u`, run as nobody, as the README's
sshd_config snippet says, with PasswordAuthentication off. A Django user
whose key is in django-sshkey's table (tests/django/django_sshkey, written by
real Django) logs in with it (ssh -i, BatchMode); a removed key, an inactive
user, a user outside [access] sshd, a key line with an option the
administrator did not allow, and a second key smuggled into a row after a
newline do not get in.

sshd and the command run in the e2e mount namespace (fixtures_e2e); the
command is copied to a root-owned directory there, since sshd refuses an
AuthorizedKeysCommand on a path others may write to."""
import json
import shutil
import subprocess

import pytest

from conftest import BUILD, SANITIZE, django_env
from fixtures_e2e import HERE, Server, free_port, public_tempdir
from sysarch import ASAN_LIBS

COMMAND = "/usr/local/sbin/django-authctl"


class KeysSshd(Server):
    def __init__(self, e2e):
        self.e2e = e2e
        self.base = public_tempdir("djsshd-keys-")
        self.port = free_port()
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.base / "hostkey")],
                       check=True, capture_output=True)
        (self.base / "sshd_config").write_text(f"""Port {self.port}
ListenAddress 127.0.0.1
HostKey {self.base}/hostkey
PidFile {self.base}/sshd.pid
UsePAM yes
PubkeyAuthentication yes
AuthorizedKeysFile none
AuthorizedKeysCommand {COMMAND} authorized-keys %u
AuthorizedKeysCommandUser nobody
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
StrictModes no
PrintMotd no
LogLevel VERBOSE
""")

    def start(self):
        ns = self.e2e.ns
        ns.pam_service("sshd", self.e2e.config_text("pam.d/sshd"))
        ns.sh("mkdir -p /usr/local/sbin && mount -t tmpfs -o mode=0755 tmpfs /usr/local/sbin")
        ns.run(["install", "-m", "0755", str(BUILD / "django-authctl"), COMMAND])
        return self.launch(["/usr/sbin/sshd", "-D", "-e", "-f", str(self.base / "sshd_config")], "sshd.log")

    def log(self):
        return (self.base / "sshd.log").read_text(errors="replace")

    def ssh(self, user, key, command="id -un"):
        if SANITIZE:
            command = "env LD_PRELOAD=%s ASAN_OPTIONS=detect_leaks=0 sh -c '%s'" % (":".join(ASAN_LIBS), command)
        args = ["ssh", "-F", "/dev/null", "-p", str(self.port), "-i", str(key), "-o", "IdentitiesOnly=yes",
                "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=60", "-o", "PreferredAuthentications=publickey",
                "%s@127.0.0.1" % user, command]
        r = subprocess.run(args, capture_output=True, text=True, timeout=120)
        return r.returncode, r.stdout, r.stderr


@pytest.fixture(scope="module")
def sshd(e2e):
    s = KeysSshd(e2e)
    try:
        yield s.start()
    finally:
        s.stop()
        shutil.rmtree(s.base, ignore_errors=True)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """name -> (private key path, public key line)"""
    d = tmp_path_factory.mktemp("clientkeys")
    out = {}
    for name in ("alice", "carol", "bob", "mallory", "optioned"):
        path = d / name
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)],
                       check=True, capture_output=True)
        out[name] = (path, path.with_suffix(".pub").read_text().strip())
    return out


def store(e2e, **by_user):
    """Replaces the named users' keys, through real Django; waits until the
    daemon answers with the change (its SQLite watcher drops the cache)."""
    env = django_env(db_engine="sqlite3", db_name=e2e.workdir / "db.sqlite3")
    r = subprocess.run(["/usr/bin/python3", str(HERE / "sshkeys_seed.py"), "keys", json.dumps(by_user)], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    e2e.daemon.client().flush()


def test_django_user_logs_in_with_her_key(sshd, e2e, keys):
    store(e2e, alice=[keys["alice"][1]])
    rc, out, err = sshd.ssh("alice", keys["alice"][0])
    assert rc == 0 and out.strip() == "alice", err + sshd.log()[-3000:]
    assert "Accepted publickey for alice" in sshd.log()
    # Another key is not hers.
    rc, out, err = sshd.ssh("alice", keys["mallory"][0])
    assert rc == 255 and out == "", out


def test_a_removed_key_no_longer_opens(sshd, e2e, keys):
    store(e2e, alice=[keys["alice"][1]])
    assert sshd.ssh("alice", keys["alice"][0])[0] == 0
    store(e2e, alice=[])
    rc, out, err = sshd.ssh("alice", keys["alice"][0])
    assert rc == 255 and out == "", out


@pytest.mark.parametrize("user,why", [("carol", "inactive in Django"), ("bob", "not in ssh-users ([access] sshd)")])
def test_users_who_may_not_log_in_get_no_keys(sshd, e2e, keys, user, why):
    store(e2e, **{user: [keys[user][1]]})
    rc, out, err = sshd.ssh(user, keys[user][0])
    assert rc == 255 and out == "", "%s (%s) got in: %s" % (user, why, out)


def test_an_option_the_administrator_did_not_allow(sshd, e2e, keys):
    """[ssh] allowed_options is empty here: a key line with command= (or any
    option) is dropped, and the key does not open the account."""
    store(e2e, alice=['command="/bin/true" ' + keys["optioned"][1], keys["alice"][1]])
    rc, out, err = sshd.ssh("alice", keys["optioned"][0])
    assert rc == 255 and out == "", out
    assert "option 'command=' not allowed" in e2e.daemon.log_text()
    assert sshd.ssh("alice", keys["alice"][0])[0] == 0


def test_a_second_key_smuggled_after_a_newline(sshd, e2e, keys):
    """One row whose text is alice's key, a newline and mallory's: neither
    line is printed, so mallory's key opens nothing (nor does alice's from
    that row)."""
    store(e2e, alice=[keys["alice"][1] + "\n" + keys["mallory"][1]])
    rc, out, err = sshd.ssh("alice", keys["mallory"][0])
    assert rc == 255 and out == "", out
    rc, out, err = sshd.ssh("alice", keys["alice"][0])
    assert rc == 255 and out == "", out
    assert "contains a newline" in e2e.daemon.log_text()


def test_no_password_logins(sshd):
    """PasswordAuthentication no: sshd offers public keys only."""
    r = subprocess.run(["ssh", "-F", "/dev/null", "-p", str(sshd.port), "-o", "BatchMode=yes",
                        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                        "-o", "PreferredAuthentications=password", "alice@127.0.0.1", "true"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 255 and "publickey" in r.stderr, r.stderr
