"""One-time codes (TOTP) from django-otp's own tables, on SQLite and
PostgreSQL: users and devices made by real Django with django_otp and
django_otp.plugins.otp_totp (tests/django/otp_settings.py), codes computed
by django-otp itself (django_otp.oath.totp on device.bin_key) as the
oracle, and django-otp's TOTPDevice.verify_token agreeing with the daemon.
Through the protocol (Authenticate with an otp policy, CodeRequired,
AuthenticateWithCode) and through real libpam (pamtester answering the
password, then the code)."""
import json
import pathlib
import subprocess
import threading
import time

import pytest

from conftest import BUILD, django_env
from fixtures_daemon import Daemon
from djproto import OTP_CONCAT, OTP_IF_ENROLLED, OTP_REQUIRED
from pam_util import ServiceDir, pamtester

HERE = pathlib.Path(__file__).resolve().parent
USERS = [
    dict(username="otp-alice", password="alice-pw-1", devices=[{}]),
    dict(username="otp-bob", password="bob-pw-2"),
    dict(username="otp-carol", password="carol-pw-3", devices=[dict(fields=dict(confirmed=False))]),
    dict(username="otp-dave", password="dave-pw-4",
         devices=[dict(fields=dict(digits=8, step=60, t0=1000, tolerance=2))]),
    dict(username="otp-erin", password="erin-pw-5", devices=[{}]),
    dict(username="otp-frank", password="frank-pw-6", devices=[{}]),
    dict(username="otp-gina", password="gina-pw-7", devices=[{}]),
    dict(username="otp-hugo", password="hugo-pw-8", devices=[dict(fields=dict(digits=8))]),
]
PW = {u["username"]: u["password"] for u in USERS}


class Site:
    """The site's Django, one process kept for the module (otp_site.py serve)."""

    def __init__(self, env, db_section):
        self.env = dict(env, DJANGO_SETTINGS_MODULE="otp_settings", DJ_PBKDF2_ITERATIONS="1000")
        self.db_section = db_section
        self.proc = None

    def django(self, *args):
        if self.proc is None:
            self.proc = subprocess.Popen(["/usr/bin/python3", str(HERE / "otp_site.py"), "serve"], env=self.env,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.proc.stdin.write(json.dumps([str(a) for a in args]) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "otp_site.py serve ended (its error is above)"
        return json.loads(line)

    def close(self):
        if self.proc is not None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
            self.proc = None

    def codes(self, user, offsets=(0,)):
        """django-otp's codes for `user` at these step offsets (clear of a step's end)."""
        wait_clear_of_step_end()
        return self.django("codes", user, json.dumps(list(offsets)))

    def code(self, user, offset=0):
        return self.codes(user, (offset,))[0]


def wait_clear_of_step_end(margin=4):
    # 30 s steps (60 for dave: a multiple): a code computed now is still
    # the current one when the daemon checks it.
    while 30 - time.time() % 30 < margin:
        time.sleep(0.2)


def make_site(tmp, env, db_section):
    site = Site(env, db_section)
    spec = tmp / "otp-spec.json"
    spec.write_text(json.dumps(dict(users=USERS)))
    assert site.django("setup", spec) is True
    return site


@pytest.fixture(scope="module", params=["sqlite", "pg"])   # "pg": marked postgres (conftest)
def site(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("otp-site")
    if request.param == "sqlite":
        db = tmp / "db.sqlite3"
        s = make_site(tmp, django_env(db_engine="sqlite3", db_name=db), dict(engine="sqlite3", name=str(db)))
    else:
        pg = request.getfixturevalue("pg_cluster")
        pg.createdb("otp_site")
        s = make_site(tmp, pg.env("otp_site"), pg.db_section("otp_site"))
    yield s
    s.close()


def otp_daemon(site, tmp_path, **sections):
    sections.setdefault("otp", {"enabled": True})
    return Daemon(BUILD, tmp_path / "authd", site.db_section, **sections)


def test_code_after_password(site, tmp_path):
    with otp_daemon(site, tmp_path) as d, d.client() as c:
        u, pw = "otp-alice", PW["otp-alice"]
        assert c.authenticate_otp(u, "wrong", OTP_IF_ENROLLED) == "WrongPassword"
        assert c.authenticate_otp(u, pw, OTP_IF_ENROLLED) == "CodeRequired"
        assert c.authenticate_otp(u, pw, OTP_REQUIRED) == "CodeRequired"
        # no policy sent: as before codes existed (password alone)
        assert c.authenticate(u, pw) == "Ok"
        now = site.code(u)
        # the code is never checked without the right password
        assert c.authenticate_with_code(u, "wrong", now["code"]) == "WrongPassword"
        assert c.authenticate_with_code(u, pw, now["code"]) == "Ok"
        assert site.django("row", u)["last_t"] == now["t"]
        # replayed: refused by the daemon, and by django-otp itself (last_t moved)
        assert c.authenticate_with_code(u, pw, now["code"]) == "WrongPassword"
        assert site.django("verify", u, now["code"]) is False
        assert c.authenticate_with_code(u, pw, "000000" if now["code"] != "000000" else "111111") == "WrongPassword"
        assert c.authenticate_with_code(u, pw, "") == "WrongPassword"
        assert "one-time code accepted" in d.log_text()
        assert now["code"] not in d.log_text().replace("last_t", "")


def test_without_device(site, tmp_path):
    with otp_daemon(site, tmp_path) as d, d.client() as c:
        for u in ("otp-bob", "otp-carol"):   # carol's device is not confirmed: ignored
            assert c.authenticate_otp(u, PW[u], OTP_IF_ENROLLED) == "Ok"
            assert c.authenticate_otp(u, PW[u], OTP_REQUIRED) == "PermDenied"
            assert c.authenticate_otp(u, "wrong", OTP_REQUIRED) == "WrongPassword"
            assert c.authenticate_with_code(u, PW[u], "123456") == "WrongPassword"


def test_other_step_t0_digits_and_tolerance(site, tmp_path):
    with otp_daemon(site, tmp_path) as d, d.client() as c:
        u, pw = "otp-dave", PW["otp-dave"]   # 8 digits, 60 s steps, t0 1000, tolerance 2
        codes = site.codes(u, (-3, -2, 0, 1))
        assert all(len(x["code"]) == 8 for x in codes)
        assert c.authenticate_with_code(u, pw, codes[0]["code"]) == "WrongPassword"   # outside the window
        assert c.authenticate_with_code(u, pw, codes[1]["code"]) == "Ok"
        assert site.django("row", u) == dict(last_t=codes[1]["t"], drift=-2)
        # the window now centres on the stored drift (-2): -4 .. 0; +1 is outside it
        assert c.authenticate_with_code(u, pw, codes[3]["code"]) == "WrongPassword"
        assert c.authenticate_with_code(u, pw, codes[2]["code"]) == "Ok"
        assert site.django("row", u) == dict(last_t=codes[2]["t"], drift=0)


def test_django_otp_agrees(site, tmp_path):
    """For each candidate, the device as new: the daemon's answer and the row
    it leaves, then django-otp's verify_token and the row it leaves; both
    within one time step (computed afresh otherwise)."""
    u, pw = "otp-erin", PW["otp-erin"]
    forms = [lambda c: c, lambda c: " %s\n" % c, lambda c: c.lstrip("0") or "0", lambda c: "+" + c,
             lambda c: c + "0", lambda c: "abc"]
    cases = [(off, form) for off in (-2, -1, 0, 1, 2) for form in (forms[0],)] + [(0, f) for f in forms[1:]]
    accepted = 0
    with otp_daemon(site, tmp_path) as d, d.client() as c:
        for off, form in cases:
            for _attempt in range(3):
                site.django("reset", u)
                step = int(time.time() // 30)
                code = form(site.code(u, off)["code"])
                ours = c.authenticate_with_code(u, pw, code) == "Ok"
                our_row = site.django("row", u)
                site.django("reset", u)
                theirs = site.django("verify", u, code)
                their_row = site.django("row", u)
                if int(time.time() // 30) == step:
                    break
            assert (off, code, ours, our_row) == (off, code, theirs, their_row)
            accepted += ours
        # -1, 0, +1 and the three spellings of the current code django-otp's int() reads
        assert accepted == 6, accepted


def test_wrong_codes_are_throttled(site, tmp_path):
    u, pw = "otp-frank", PW["otp-frank"]
    throttle = {"deny": 3, "client_deny": 0, "fail_interval": 600, "unlock_time": 600}
    with otp_daemon(site, tmp_path, throttle=throttle) as d, d.client() as c:
        assert c.authenticate_with_code(u, pw, "000001") == "WrongPassword"
        assert c.authenticate_with_code(u, pw, "000002") == "WrongPassword"
        # a right password asking for the code is no success: the count stays
        assert c.authenticate_otp(u, pw, OTP_IF_ENROLLED) == "CodeRequired"
        assert c.authenticate_with_code(u, pw, "000003") == "WrongPassword"
        now = site.code(u)
        st, left = c.authenticate_locked_for(u, pw)
        assert st == "Throttled" and 0 < left <= 600
        assert c.authenticate_with_code(u, pw, now["code"]) == "Throttled"
        assert site.django("row", u)["last_t"] == -1


def test_code_appended_to_password(site, tmp_path):
    with otp_daemon(site, tmp_path) as d, d.client() as c:
        flags = OTP_IF_ENROLLED | OTP_CONCAT
        for u in ("otp-gina", "otp-hugo"):   # 6 and 8 digits
            pw = PW[u]
            now = site.code(u)
            assert c.authenticate_otp(u, pw, flags) == "WrongPassword"     # the code is missing
            assert c.authenticate_otp(u, pw + "x" * len(now["code"]), flags) == "WrongPassword"
            assert c.authenticate_otp(u, pw + now["code"], flags) == "Ok"
            assert c.authenticate_otp(u, pw + now["code"], flags) == "WrongPassword"   # replayed
            assert site.django("row", u)["last_t"] == now["t"]
        # no device: the whole string is the password
        assert c.authenticate_otp("otp-bob", PW["otp-bob"], flags) == "Ok"
        assert c.authenticate_otp("otp-bob", PW["otp-bob"], OTP_REQUIRED | OTP_CONCAT) == "PermDenied"


def test_one_winner_for_one_code(site, tmp_path):
    u, pw = "otp-alice", PW["otp-alice"]
    with otp_daemon(site, tmp_path) as d:
        site.django("reset", u)
        now = site.code(u)
        results = []

        def login():
            with d.client() as c:
                results.append(c.authenticate_with_code(u, pw, now["code"]))

        threads = [threading.Thread(target=login) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == ["Ok"] + ["WrongPassword"] * 3, results


def test_daemon_without_otp(site, tmp_path):
    with otp_daemon(site, tmp_path, otp={"enabled": False}) as d, d.client() as c:
        u, pw = "otp-alice", PW["otp-alice"]
        assert c.authenticate_otp(u, pw, OTP_IF_ENROLLED) == "Disabled"
        assert c.authenticate_otp(u, pw, OTP_REQUIRED) == "Disabled"
        assert c.authenticate_with_code(u, pw, "123456") == "Disabled"
        assert c.authenticate(u, pw) == "Ok"


def test_through_pam(site, tmp_path):
    u, pw = "otp-alice", PW["otp-alice"]
    with otp_daemon(site, tmp_path) as d:
        svc = ServiceDir(tmp_path / "pam.d")
        enrolled = svc.simple("otp-login", d.socket, auth_args="otp=if_enrolled")
        required = svc.simple("otp-strict", d.socket, auth_args="otp=required")
        site.django("reset", u)
        now = site.code(u)
        p = pamtester(svc.path, enrolled, u, pw + "\n" + now["code"], ops=("authenticate",))
        assert p.returncode == 0, (p.stdout, p.stderr)
        assert "Verification code:" in p.stdout + p.stderr
        # the same code again, and a wrong one: refused
        p = pamtester(svc.path, enrolled, u, pw + "\n" + now["code"], ops=("authenticate",))
        assert p.returncode != 0 and "Authentication failure" in p.stderr, (p.stdout, p.stderr)
        p = pamtester(svc.path, enrolled, u, pw + "\n000000", ops=("authenticate",))
        assert p.returncode != 0
        # a wrong password: no code asked
        p = pamtester(svc.path, enrolled, u, "wrong\n" + now["code"], ops=("authenticate",))
        assert p.returncode != 0 and "Verification code:" not in p.stdout + p.stderr
        # without a device: the password alone, or refused when required
        p = pamtester(svc.path, enrolled, "otp-bob", PW["otp-bob"], ops=("authenticate",))
        assert p.returncode == 0, (p.stdout, p.stderr)
        p = pamtester(svc.path, required, "otp-bob", PW["otp-bob"], ops=("authenticate",))
        assert p.returncode != 0 and "Permission denied" in p.stderr, (p.stdout, p.stderr)
