"""sshd with one-time codes: keyboard-interactive asks the Django password,
then the code of the user's django-otp TOTP device (made by django-otp in the
e2e site's database); a right code logs in, a wrong one is refused. The
client is OpenSSH's ssh driven by pexpect (sshpass answers one prompt only).

The e2e sshd setup (test_e2e_sshd.Sshd) with its pam.d/sshd, the pam_django
auth line given otp=if_enrolled and the socket of a daemon of this module's
own, over the same database, with [otp] enabled."""
import json
import subprocess

import pexpect
import pytest

from conftest import BUILD, django_env
from fixtures_daemon import Daemon
from test_e2e_sshd import Sshd
from test_otp import HERE, wait_clear_of_step_end


@pytest.fixture(scope="module")
def otp_sshd(e2e, tmp_path_factory):
    db = e2e.workdir / "db.sqlite3"
    env = dict(django_env(db_engine="sqlite3", db_name=db), DJANGO_SETTINGS_MODULE="otp_settings")

    def django(*args):
        r = subprocess.run(["/usr/bin/python3", str(HERE / "otp_site.py"), *args], env=env,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        return json.loads(r.stdout)

    assert django("device", "alice") is True
    d = Daemon(BUILD, tmp_path_factory.mktemp("otp-authd"), dict(engine="sqlite3", name=str(db)),
               otp={"enabled": True}, access={"default": "", "sshd": "ssh-users"})
    d.start()
    s = Sshd(e2e)
    try:
        s.start()
        text = e2e.config_text("pam.d/sshd")
        auth = "default=die]  pam_django.so\n"
        assert auth in text
        e2e.ns.pam_service("sshd", text.replace(auth, "default=die]  pam_django.so socket=%s otp=if_enrolled\n"
                                                % d.socket, 1))
        yield s, django
    finally:
        s.stop()
        rc = d.stop()
        log = d.log_text()
        d.cleanup()
    assert rc == 0, log


def kbd_login(sshd, user, password, code):
    """Answers Password: then Verification code:; returns (logged in, transcript)."""
    child = pexpect.spawn("ssh", ["-F", "/dev/null", "-p", str(sshd.port), "-o", "StrictHostKeyChecking=no",
                                  "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                                  "-o", "PreferredAuthentications=keyboard-interactive",
                                  "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1",
                                  "%s@127.0.0.1" % user, "echo", "logged-in-$((6*7))"],
                          timeout=60, encoding="utf-8")
    try:
        child.expect("Password:")
        child.sendline(password)
        child.expect("Verification code:")
        child.sendline(code)
        i = child.expect(["logged-in-42", "Password:", "Permission denied", pexpect.EOF])
        out = child.before + (child.after if isinstance(child.after, str) else "")
        return i == 0, out
    finally:
        child.close(force=True)


def test_password_and_code(otp_sshd, e2e):
    sshd, django = otp_sshd
    wait_clear_of_step_end()
    code = json.loads(json.dumps(django("codes", "alice", "[0]")))[0]["code"]
    ok, out = kbd_login(sshd, "alice", e2e.passwords["alice"], code)
    assert ok, (out, sshd.log())
    # the same code again: refused (django-otp's last_t moved)
    assert django("row", "alice")["last_t"] >= 0
    ok, out = kbd_login(sshd, "alice", e2e.passwords["alice"], code)
    assert not ok, out


def test_wrong_code_refused(otp_sshd, e2e):
    sshd, django = otp_sshd
    wait_clear_of_step_end()
    code = django("codes", "alice", "[0]")[0]["code"]
    wrong = "%06d" % ((int(code) + 1) % 1000000)
    ok, out = kbd_login(sshd, "alice", e2e.passwords["alice"], wrong)
    assert not ok, out
