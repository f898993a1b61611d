"""What pam_django.so tells the user through the PAM conversation, through
the real daemon and real libpam: a lockout with the time it has left (or
"until an administrator resets it"), the same for a name nobody has as for
a real user, the reasons Django's validators give for refusing a new
password, and nothing at all under PAM_SILENT."""
import re


from conftest import BUILD
from fixtures_daemon import Daemon
from pam_util import ServiceDir, harness, harness1, pamtester
from test_abuse import active_users
from test_pam_django import sqlite_copy

LOCKED = re.compile(r"^Login temporarily locked after too many failed attempts; try again in (\d+) minutes\.$")
UNTIL_RESET = "Login locked after too many failed attempts, until an administrator resets it."
GHOST = "nobody-has-this-name"


def locked_daemon(pop, tmp_path, unlock_time):
    return Daemon(BUILD, tmp_path / "authd", pop.db_section, pop,
                  throttle={"deny": 3, "client_deny": 0, "fail_interval": 600, "unlock_time": unlock_time})


def attempts(svc, s, name, password, n, **kw):
    return harness(svc.path, s, [(name, password)] * n, ops="auth", flags="none", msgs=True, **kw)


def test_lockout_told_with_time_left(sqlite_population, tmp_path):
    (u,) = active_users(sqlite_population, 1)
    with locked_daemon(sqlite_population, tmp_path, 240) as d:
        svc = ServiceDir(tmp_path / "pam.d")
        s = svc.simple("login", d.socket)
        out = attempts(svc, s, u["username"], "wrong-guess", 3)
        assert [o["auth"] for o in out] == ["PAM_AUTH_ERR"] * 3
        assert all(o["msgs"] == [] for o in out), out
        # Locked: even the right password is refused, and the user is told why and for how long.
        r = harness1(svc.path, s, u["username"], u["password"], ops="auth", flags="none", msgs=True)
        assert r["auth"] == "PAM_MAXTRIES"
        assert len(r["msgs"]) == 1 and LOCKED.match(r["msgs"][0]), r
        assert LOCKED.match(r["msgs"][0]).group(1) == "4"
        # pamtester's conversation shows the same text.
        p = pamtester(svc.path, s, u["username"], u["password"], ops=("authenticate",))
        assert p.returncode != 0
        assert "try again in 4 minutes." in p.stdout + p.stderr, (p.stdout, p.stderr)
        # PAM_SILENT (mod_authnz_pam's flags): not a word.
        r = harness1(svc.path, s, u["username"], u["password"], ops="auth", msgs=True)
        assert r["auth"] == "PAM_MAXTRIES" and r["msgs"] == [] and r["other_msgs"] == 0


def test_lock_until_reset_told(sqlite_population, tmp_path):
    (u,) = active_users(sqlite_population, 1)
    with locked_daemon(sqlite_population, tmp_path, 0) as d:
        svc = ServiceDir(tmp_path / "pam.d")
        s = svc.simple("login", d.socket)
        attempts(svc, s, u["username"], "wrong-guess", 3)
        r = harness1(svc.path, s, u["username"], u["password"], ops="auth", flags="none", msgs=True)
        assert (r["auth"], r["msgs"]) == ("PAM_MAXTRIES", [UNTIL_RESET]), r
        with d.client() as c:
            assert c.authenticate_locked_for(u["username"], u["password"]) == ("Throttled", 0xFFFFFFFF)


def test_made_up_name_locks_like_a_real_user(sqlite_population, tmp_path):
    """No user-existence oracle: the same failures lock a name nobody has as
    they lock a real user, with the same message and the same time left."""
    (u,) = active_users(sqlite_population, 1)
    with locked_daemon(sqlite_population, tmp_path, 240) as d:
        svc = ServiceDir(tmp_path / "pam.d")
        s = svc.simple("login", d.socket)
        seen = {}
        for name in (u["username"], GHOST):
            out = attempts(svc, s, name, "wrong-guess", 5)
            # A failed password is AUTH_ERR for a user and USER_UNKNOWN for a
            # name nobody has (as pam_unix; a remote service shows neither).
            seen[name] = [("FAILED" if o["auth"] in ("PAM_AUTH_ERR", "PAM_USER_UNKNOWN") else o["auth"],
                           [LOCKED.sub(r"locked \1", m) for m in o["msgs"]]) for o in out]
        assert seen[u["username"]] == seen[GHOST], seen
        assert seen[GHOST] == [("FAILED", [])] * 3 + [("PAM_MAXTRIES", ["locked 4"])] * 2, seen
        with d.client() as c:
            st_real, left_real = c.authenticate_locked_for(u["username"], u["password"])
            st_ghost, left_ghost = c.authenticate_locked_for(GHOST, "x")
        assert st_real == st_ghost == "Throttled"
        assert abs(left_real - left_ghost) <= 1 and 200 < left_real <= 240


def test_refused_password_change_told_why(sqlite_population, tmp_path):
    pop = sqlite_population
    (u,) = active_users(pop, 1)
    d = Daemon(BUILD, tmp_path / "d", sqlite_copy(pop, tmp_path / "db.sqlite3"), pop,
               passwords={"allow_change": True,
                          "validators": ["MinimumLengthValidator", "CommonPasswordValidator"]})
    with d:
        svc = ServiceDir(tmp_path / "pam.d")
        # minlen=0: the daemon (Django's validators) decides
        s = svc.simple("passwd", d.socket, password_args="minlen=0")

        def change(old, new, **kw):
            return harness1(svc.path, s, u["username"], old, new, new, ops="chauthtok", msgs=True, **kw)

        r = change(u["password"], "Zq7#xk", flags="none")
        assert r["chauthtok"] == "PAM_AUTHTOK_ERR"
        assert r["msgs"] == ["This password is too short. It must contain at least 8 characters."], r
        r = change(u["password"], "password", flags="none")
        assert (r["chauthtok"], r["msgs"]) == ("PAM_AUTHTOK_ERR", ["This password is too common."]), r
        r = change(u["password"], "1234", flags="none")
        assert r["msgs"] == ["This password is too short. It must contain at least 8 characters. "
                             "This password is too common."], r
        r = change("not-the-password", "Brand-new pässword 42", flags="none")
        assert (r["chauthtok"], r["msgs"]) == ("PAM_AUTH_ERR", ["Current password is wrong."]), r
        # pamtester (passwd's conversation) shows the reason too.
        p = pamtester(svc.path, s, u["username"], "\n".join([u["password"], "password", "password"]),
                      ops=("chauthtok",))
        assert p.returncode != 0 and "This password is too common." in p.stdout + p.stderr, (p.stdout, p.stderr)
        # PAM_SILENT: nothing.
        r = change(u["password"], "password")
        assert r["chauthtok"] == "PAM_AUTHTOK_ERR" and r["msgs"] == [] and r["other_msgs"] == 0
        # Never a hash, never the password typed.
        r = change(u["password"], "Brand-new pässword 42", flags="none")
        assert r["chauthtok"] == "PAM_SUCCESS" and r["msgs"] == [], r
