"""pam_django.so inside real libpam, against a scripted stand-in daemon that
speaks the wire protocol: every argument and every return code, the
conversation contract of mod_authnz_pam, stacking (use_first_pass /
try_first_pass), fail delays, timeouts and a stopped daemon. The same module
against the real django-authd and real Django is test_pam_django.py."""
import time

import pytest

from pam_util import (STRERROR, FakeDaemon, ServiceDir, harness, harness1,
                      harness_syslog, pamtester)

PW = "right-password"


@pytest.fixture
def fake():
    d = FakeDaemon(password=PW)
    yield d
    d.stop()


@pytest.fixture
def svc(tmp_path):
    return ServiceDir(tmp_path / "pam.d")


# --- auth -------------------------------------------------------------------------------

def test_auth_success_sends_user_password_service_rhost(fake, svc):
    s = svc.simple("web", fake.path)
    r = harness1(svc.path, s, "alice", PW, rhost="198.51.100.4")
    assert r["auth"] == "PAM_SUCCESS" and r["acct"] == "PAM_SUCCESS"
    assert r["prompts"] == 1 and r["other_msgs"] == 0
    (a,) = fake.of("Authenticate")
    assert a == dict(a, user="alice", password=PW, service="web", rhost="198.51.100.4")


@pytest.mark.parametrize("status,code", [
    ("Ok", "PAM_SUCCESS"), ("WrongPassword", "PAM_AUTH_ERR"), ("NoUser", "PAM_USER_UNKNOWN"),
    ("Throttled", "PAM_MAXTRIES"), ("Unavailable", "PAM_AUTHINFO_UNAVAIL"),
    ("Denied", "PAM_AUTHINFO_UNAVAIL"), ("BadVersion", "PAM_AUTHINFO_UNAVAIL"),
    ("PermDenied", "PAM_SERVICE_ERR"), ("BadRequest", "PAM_SERVICE_ERR"),
])
def test_auth_return_codes(fake, svc, status, code):
    fake.script[("Authenticate", None)] = status
    s = svc.simple("web", fake.path)
    r = harness1(svc.path, s, "alice", PW, ops="auth")
    assert r["auth"] == code
    # mod_authnz_pam's conversation: nothing but the one echo-off prompt
    assert r["prompts"] == 1 and r["other_msgs"] == 0


def test_default_socket_from_environment(fake, svc):
    # no socket= argument: DJANGO_AUTH_SOCKET (the program is not setuid)
    s = svc.add("env", "auth required pam_django.so nodelay\naccount required pam_django.so\n")
    r = harness1(svc.path, s, "alice", PW, env={"DJANGO_AUTH_SOCKET": fake.path})
    assert (r["auth"], r["acct"]) == ("PAM_SUCCESS", "PAM_SUCCESS")
    assert len(fake.requests) == 2


def test_auth_daemon_stopped(svc, tmp_path):
    s = svc.simple("web", tmp_path / "no-daemon-here")
    t0 = time.monotonic()
    r = harness1(svc.path, s, "alice", PW)
    assert r["auth"] == "PAM_AUTHINFO_UNAVAIL" and r["acct"] == "PAM_AUTHINFO_UNAVAIL"
    assert time.monotonic() - t0 < 2


def test_auth_daemon_silent_times_out(fake, svc):
    fake.script[("Authenticate", None)] = "silent"
    fake.script[("Account", None)] = "silent"
    s = svc.simple("web", fake.path, common="nodelay timeout=0.5")
    t0 = time.monotonic()
    r = harness1(svc.path, s, "alice", PW)
    elapsed = time.monotonic() - t0
    assert r["auth"] == "PAM_AUTHINFO_UNAVAIL" and r["acct"] == "PAM_AUTHINFO_UNAVAIL"
    assert 0.9 <= elapsed < 3, elapsed      # two round trips of 0.5 s each


def test_auth_empty_password(fake, svc):
    s = svc.simple("web", fake.path)
    fake.script[("Authenticate", None)] = "Ok"
    # mod_authnz_pam passes PAM_DISALLOW_NULL_AUTHTOK: refused without asking
    assert harness1(svc.path, s, "alice", "", ops="auth")["auth"] == "PAM_AUTH_ERR"
    # without the flag, refused too unless nullok
    assert harness1(svc.path, s, "alice", "", ops="auth", flags="none")["auth"] == "PAM_AUTH_ERR"
    assert fake.of("Authenticate") == []
    n = svc.simple("nullok", fake.path, auth_args="nullok")
    assert harness1(svc.path, n, "alice", "", ops="auth")["auth"] == "PAM_AUTH_ERR"
    assert fake.of("Authenticate") == []
    assert harness1(svc.path, n, "alice", "", ops="auth", flags="none")["auth"] == "PAM_SUCCESS"
    assert fake.of("Authenticate")[0]["password"] == ""


@pytest.mark.parametrize("user", ["+alice", "-alice", "a" * 151, "ctl\x01name"])
def test_auth_impossible_user_names(fake, svc, user):
    s = svc.simple("web", fake.path)
    r = harness1(svc.path, s, user, PW)
    assert r["auth"] == "PAM_USER_UNKNOWN" and r["acct"] == "PAM_USER_UNKNOWN"
    assert r["prompts"] == 0
    assert fake.requests == []


def test_ignore_unknown_user(fake, svc):
    fake.script[("Authenticate", None)] = "NoUser"
    fake.script[("Account", None)] = "NoUser"
    # IGNORE lets the next module decide; pam_debug's code shows it did.
    text = ("auth [success=done ignore=ignore default=die] pam_django.so socket={s} nodelay {a}\n"
            "auth required pam_debug.so auth=cred_insufficient\n"
            "account [success=done ignore=ignore default=die] pam_django.so socket={s} {a}\n"
            "account required pam_debug.so acct=new_authtok_reqd\n")
    plain = svc.add("plain", text.format(s=fake.path, a=""))
    ign = svc.add("ign", text.format(s=fake.path, a="ignore_unknown_user"))
    r = harness1(svc.path, plain, "ghost", PW)
    assert (r["auth"], r["acct"]) == ("PAM_USER_UNKNOWN", "PAM_USER_UNKNOWN")
    r = harness1(svc.path, ign, "ghost", PW)
    assert (r["auth"], r["acct"]) == ("PAM_CRED_INSUFFICIENT", "PAM_NEW_AUTHTOK_REQD")
    # ignore_unknown_user does not hide a wrong password
    fake.script[("Authenticate", None)] = "WrongPassword"
    assert harness1(svc.path, ign, "alice", "x", ops="auth")["auth"] == "PAM_AUTH_ERR"


def test_ignore_authinfo_unavail(svc, tmp_path):
    text = ("auth [success=done ignore=ignore default=die] pam_django.so socket={s} nodelay {a}\n"
            "auth required pam_debug.so auth=cred_insufficient\n"
            "account [success=done ignore=ignore default=die] pam_django.so socket={s} {a}\n"
            "account required pam_debug.so acct=new_authtok_reqd\n")
    gone = tmp_path / "gone"
    plain = svc.add("plain", text.format(s=gone, a=""))
    ign = svc.add("ign", text.format(s=gone, a="ignore_authinfo_unavail"))
    r = harness1(svc.path, plain, "alice", PW)
    assert (r["auth"], r["acct"]) == ("PAM_AUTHINFO_UNAVAIL", "PAM_AUTHINFO_UNAVAIL")
    r = harness1(svc.path, ign, "alice", PW)
    assert (r["auth"], r["acct"]) == ("PAM_CRED_INSUFFICIENT", "PAM_NEW_AUTHTOK_REQD")


# --- stacking ------------------------------------------------------------------------------

def test_use_first_pass_after_pam_django(fake, svc):
    # an optional first instance prompts; the second reuses PAM_AUTHTOK
    s = svc.add("twice", f"auth optional pam_django.so socket={fake.path} nodelay\n"
                         f"auth required pam_django.so socket={fake.path} nodelay use_first_pass\n")
    r = harness1(svc.path, s, "alice", PW, ops="auth")
    assert r["auth"] == "PAM_SUCCESS" and r["prompts"] == 1
    assert [a["password"] for a in fake.of("Authenticate")] == [PW, PW]


def test_use_first_pass_after_pam_unix(fake, svc):
    # Debian's common-auth pattern: pam_unix asks, pam_django reuses the answer
    s = svc.add("unix", "auth [success=done default=ignore] pam_unix.so nodelay\n"
                        f"auth required pam_django.so socket={fake.path} nodelay use_first_pass\n")
    r = harness1(svc.path, s, "django-only-user", PW, ops="auth")
    assert r["auth"] == "PAM_SUCCESS" and r["prompts"] == 1
    assert fake.of("Authenticate")[0]["password"] == PW
    r = harness1(svc.path, s, "django-only-user", "wrong", ops="auth")
    assert r["auth"] == "PAM_AUTH_ERR" and r["prompts"] == 1


def test_use_first_pass_without_earlier_password(fake, svc):
    s = svc.simple("web", fake.path, auth_args="use_first_pass")
    r = harness1(svc.path, s, "alice", PW, ops="auth")
    assert r["auth"] == "PAM_AUTH_ERR" and r["prompts"] == 0
    assert fake.requests == []


def test_try_first_pass(fake, svc):
    s = svc.add("try", f"auth optional pam_django.so socket={fake.path} nodelay\n"
                       f"auth required pam_django.so socket={fake.path} nodelay try_first_pass\n")
    r = harness1(svc.path, s, "alice", PW, ops="auth")
    assert r["auth"] == "PAM_SUCCESS" and r["prompts"] == 1
    assert len(fake.of("Authenticate")) == 2
    # alone, it prompts
    t = svc.simple("alone", fake.path, auth_args="try_first_pass")
    r = harness1(svc.path, t, "alice", PW, ops="auth")
    assert r["auth"] == "PAM_SUCCESS" and r["prompts"] == 1


# --- account ----------------------------------------------------------------------------------

def test_account_sends_requirements(fake, svc):
    s = svc.add("req", f"account required pam_django.so socket={fake.path} "
                       "require_group=sftp,admins require_group=ops require_staff "
                       "require_superuser require_permission=auth.change_user "
                       "require_permission=blog.add_post\n"
                       f"account required pam_django.so socket={fake.path} "
                       "[require_group=Web Editors]\n")
    r = harness1(svc.path, s, "alice", ops="acct")
    assert r["acct"] == "PAM_SUCCESS" and r["prompts"] == 0 and r["other_msgs"] == 0
    first, second = fake.of("Account")
    assert first["user"] == "alice"
    assert first["groups"] == ["sftp", "admins", "ops"]
    assert first["flags"] == 3
    assert first["permissions"] == ["auth.change_user", "blog.add_post"]
    assert second["groups"] == ["Web Editors"] and second["flags"] == 0
    assert second["permissions"] == []


@pytest.mark.parametrize("status,code", [
    ("Ok", "PAM_SUCCESS"), ("Inactive", "PAM_ACCT_EXPIRED"), ("NoUser", "PAM_USER_UNKNOWN"),
    ("PermDenied", "PAM_PERM_DENIED"), ("Unavailable", "PAM_AUTHINFO_UNAVAIL"),
    ("Denied", "PAM_AUTHINFO_UNAVAIL"),
])
def test_account_return_codes(fake, svc, status, code):
    fake.script[("Account", None)] = status
    fake.text[("Account", None)] = "not in any of the required groups"
    s = svc.simple("web", fake.path)
    r = harness1(svc.path, s, "alice", ops="acct")
    assert r["acct"] == code and r["other_msgs"] == 0 and r["prompts"] == 0


def test_account_runs_after_auth_only_on_success_like_mod_authnz_pam(fake, svc):
    s = svc.simple("web", fake.path)
    r = harness1(svc.path, s, "alice", "wrong", chain=True)
    assert r["auth"] == "PAM_AUTH_ERR" and r["acct"] == "-"
    assert fake.of("Account") == []


# --- password --------------------------------------------------------------------------------

def test_chauthtok_success(fake, svc):
    s = svc.simple("passwd", fake.path)
    r = harness1(svc.path, s, "alice", PW, "brand-new-pass", "brand-new-pass", ops="chauthtok")
    assert r["chauthtok"] == "PAM_SUCCESS" and r["prompts"] == 3
    check, store = fake.of("ChangePassword")
    assert (check["old"], check["new"], check["flags"]) == (PW, "", 1)
    assert (store["old"], store["new"], store["flags"]) == (PW, "brand-new-pass", 0)


def test_chauthtok_wrong_old_password(fake, svc):
    s = svc.simple("passwd", fake.path)
    r = harness1(svc.path, s, "alice", "not-it", "brand-new-pass", "brand-new-pass",
                 ops="chauthtok")
    assert r["chauthtok"] == "PAM_AUTH_ERR" and r["prompts"] == 1
    assert len(fake.of("ChangePassword")) == 1


def test_chauthtok_minlen_and_mismatch(fake, svc):
    s = svc.simple("passwd", fake.path, password_args="minlen=12")
    r = harness1(svc.path, s, "alice", PW, "short-pass1", ops="chauthtok")
    assert r["chauthtok"] == "PAM_AUTHTOK_ERR"
    r = harness1(svc.path, s, "alice", PW, "long-enough-pass", "long-enough-typo",
                 ops="chauthtok")
    assert r["chauthtok"] == "PAM_TRY_AGAIN"
    assert all(c["flags"] == 1 for c in fake.of("ChangePassword"))   # nothing stored


def test_chauthtok_disabled_says_so(fake, svc):
    fake.script[("ChangePassword", None)] = "Disabled"
    fake.text[("ChangePassword", None)] = "Change it on the web site."
    s = svc.simple("passwd", fake.path)
    # PAM_SILENT: no message
    r = harness1(svc.path, s, "alice", PW, ops="chauthtok")
    assert r["chauthtok"] == "PAM_PERM_DENIED" and r["other_msgs"] == 0
    # interactive: an error message reaches the user (pamtester prints it)
    p = pamtester(svc.path, s, "alice", PW, ops=("chauthtok",))
    assert p.returncode != 0
    assert "Password changes are disabled" in p.stderr + p.stdout
    assert "Change it on the web site." in p.stderr + p.stdout
    assert STRERROR["PAM_PERM_DENIED"] in p.stderr + p.stdout


def test_chauthtok_use_authtok(fake, svc):
    s = svc.add("passwd", f"password required pam_django.so socket={fake.path} use_authtok\n")
    r = harness1(svc.path, s, "alice", PW, "brand-new-pass", "brand-new-pass", ops="chauthtok")
    assert r["chauthtok"] == "PAM_AUTHTOK_ERR"
    assert all(c["flags"] == 1 for c in fake.of("ChangePassword"))


# --- the rest --------------------------------------------------------------------------------

def test_setcred_and_session_succeed_quietly(fake, svc):
    s = svc.simple("ssh", fake.path)
    r = harness1(svc.path, s, "alice", PW, ops="auth,setcred,session")
    assert (r["auth"], r["setcred"], r["session"]) == ("PAM_SUCCESS",) * 3
    assert r["other_msgs"] == 0
    assert len(fake.requests) == 1


def test_unknown_arguments_are_not_fatal(fake, svc):
    s = svc.simple("web", fake.path, auth_args="frobnicate timeout=banana minlen=-1",
                   acct_args="require_nothing")
    r = harness1(svc.path, s, "alice", PW)
    assert (r["auth"], r["acct"]) == ("PAM_SUCCESS", "PAM_SUCCESS")


def test_fail_delay(fake, svc):
    default = svc.simple("d", fake.path, common="timeout=2")
    nodelay = svc.simple("n", fake.path, common="nodelay")
    short = svc.simple("s", fake.path, common="fail_delay=400")
    # libpam randomizes the largest requested delay by +-50 %
    r = harness1(svc.path, default, "alice", "wrong", ops="auth", delay_fn=True)
    assert r["auth"] == "PAM_AUTH_ERR" and 1_000_000 <= r["delay"] <= 3_000_000
    r = harness1(svc.path, short, "alice", "wrong", ops="auth", delay_fn=True)
    assert 200_000 <= r["delay"] <= 600_000
    # nothing asked: libpam calls the callback with 0 (or not at all)
    assert harness1(svc.path, nodelay, "alice", "wrong", ops="auth", delay_fn=True)["delay"] in (-1, 0)
    # success: no delay
    assert harness1(svc.path, default, "alice", PW, ops="auth", delay_fn=True)["delay"] in (-1, 0)
    # and without a callback libpam really sleeps
    t0 = time.monotonic()
    harness1(svc.path, short, "alice", "wrong", ops="auth")
    assert time.monotonic() - t0 >= 0.19


def test_many_requests_in_one_process(fake, svc):
    # mod_authnz_pam: pam_start/pam_end per request in a long-lived worker
    s = svc.simple("web", fake.path)
    reqs = [("alice", PW if i % 3 else "wrong") for i in range(300)]
    out = harness(svc.path, s, reqs, chain=True)
    assert [o["auth"] for o in out] == ["PAM_SUCCESS" if i % 3 else "PAM_AUTH_ERR"
                                         for i in range(300)]


# --- pamtester through pam_wrapper --------------------------------------------------------------

@pytest.mark.parametrize("user,password,auth,acct", [
    ("alice", PW, "PAM_SUCCESS", "PAM_SUCCESS"),
    ("alice", "wrong", "PAM_AUTH_ERR", None),
    ("ghost", PW, "PAM_USER_UNKNOWN", None),
    ("locked", PW, "PAM_SUCCESS", "PAM_ACCT_EXPIRED"),
])
def test_pamtester(fake, svc, user, password, auth, acct):
    fake.script[("Authenticate", "ghost")] = "NoUser"
    fake.script[("Account", "locked")] = "Inactive"
    s = svc.simple("pt", fake.path)
    p = pamtester(svc.path, s, user, password, items={"rhost": "203.0.113.9"})
    out = p.stdout + p.stderr
    if auth == "PAM_SUCCESS":
        assert "successfully authenticated" in out
        if acct == "PAM_SUCCESS":
            assert p.returncode == 0 and "account management done" in out
        else:
            assert p.returncode != 0 and STRERROR[acct] in out
    else:
        assert p.returncode != 0 and STRERROR[auth] in out
    assert fake.of("Authenticate")[0]["rhost"] == "203.0.113.9"
    assert fake.of("Authenticate")[0]["service"] == "pt"


def test_pamtester_daemon_stopped(svc, tmp_path):
    s = svc.simple("pt", tmp_path / "gone")
    p = pamtester(svc.path, s, "alice", PW)
    assert p.returncode != 0 and STRERROR["PAM_AUTHINFO_UNAVAIL"] in p.stdout + p.stderr


# --- the log ------------------------------------------------------------------------------------

def test_syslog_lines(fake, svc):
    """What reaches syslog (captured at /dev/log in a private mount namespace):
    authpriv, user and rhost on successes and failures, never a password, the
    name of an unknown user only with `audit`, even with `debug`."""
    fake.script[("Authenticate", "typed-a-password-here")] = "NoUser"
    plain = svc.simple("web", fake.path, auth_args="debug frobnicate")
    audit = svc.simple("aud", fake.path, auth_args="audit")
    reqs = [("alice", PW), ("alice", "Wrong-Secret-1"), ("typed-a-password-here", "Other-Secret-2"),
            ("+nis", "Other-Secret-3")]
    out, log = harness_syslog(svc.path, plain, reqs, ops="auth", rhost="198.51.100.77")
    text = "\n".join(log)
    assert [l.split("\t")[1].split()[0] for l in out.splitlines()] == [
        "auth=PAM_SUCCESS", "auth=PAM_AUTH_ERR", "auth=PAM_USER_UNKNOWN", "auth=PAM_USER_UNKNOWN"]
    for secret in (PW, "Wrong-Secret-1", "Other-Secret-2", "Other-Secret-3"):
        assert secret not in text
    assert "typed-a-password-here" not in text and "+nis" not in text
    assert "authentication success; user=alice rhost=198.51.100.77 service=web" in text
    assert "authentication failure; user=alice rhost=198.51.100.77 service=web" in text
    assert "user=(unknown) rhost=198.51.100.77" in text
    assert "unknown option: frobnicate" in text
    # facility authpriv (10 << 3): <85> notice, <86> info, <87> debug
    assert all(l.startswith(("<8", "<9")) for l in log), log
    assert any(l.startswith("<87>") for l in log)
    assert all("pam_django(web:auth)" in l for l in log)

    out, log = harness_syslog(svc.path, audit, reqs[2:3], ops="auth")
    text = "\n".join(log)
    assert "user=typed-a-password-here" in text and "Other-Secret-2" not in text
