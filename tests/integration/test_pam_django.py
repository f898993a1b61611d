"""pam_django.so against the real django-authd and real Django, on SQLite and
PostgreSQL. For every user of the Django-made population (fixtures_db):

  auth     equals django.contrib.auth.handlers.modwsgi.check_password:
           True -> PAM_SUCCESS, False -> PAM_AUTH_ERR, None -> PAM_USER_UNKNOWN
  account  with require_group equals groups_for_user, with require_permission
           equals User.has_perm, with require_staff / require_superuser the
           flags; an inactive user is PAM_ACCT_EXPIRED, an unknown one
           PAM_USER_UNKNOWN.

One documented difference: names starting with '+' or '-' (NIS syntax to
pam_unix and nsswitch) are refused by the module itself as PAM_USER_UNKNOWN,
whatever Django would say.

The bulk runs through tests/helpers/pam_harness (real libpam via
pam_start_confdir, mod_authnz_pam's conversation and flags); a representative
subset through pamtester under pam_wrapper."""
import json
import shutil
import subprocess
import time

import pytest

from conftest import BUILD, DJANGO_DIR, SANITIZE, django_env
from fixtures_daemon import Daemon
from fixtures_db import free_port
from pam_util import (STRERROR, ServiceDir, harness, harness1, pamtester)

AUTH = {True: "PAM_SUCCESS", False: "PAM_AUTH_ERR", None: "PAM_USER_UNKNOWN"}


def refused_by_module(name):
    return name == "" or name[0] in "+-"


@pytest.fixture(scope="module", params=["sqlite", "pg", "mysql"])
def daemon(request):
    return request.getfixturevalue("daemon_" + request.param)


def bracket(arg):
    """A module argument with spaces goes in brackets in a PAM service file."""
    return "[%s]" % arg.replace("]", "\\]") if " " in arg else arg


@pytest.fixture(scope="module")
def services(daemon, tmp_path_factory):
    """Service files for the population: `web` (auth + plain account), one
    per group, per permission, and the flag and combination checks."""
    pop = daemon.db
    svc = ServiceDir(tmp_path_factory.mktemp("pam.d"))
    base = "pam_django.so socket=%s" % daemon.socket
    svc.add("web", "auth required %s nodelay\naccount required %s\n" % (base, base))
    names = {"web": "web"}
    for i, g in enumerate(pop.spec["groups"]):
        names["group:" + g] = svc.add("grp%d" % i, "account required %s %s\n"
                                      % (base, bracket("require_group=" + g)))
    for i, p in enumerate(pop.spec["probe_perms"]):
        names["perm:" + p] = svc.add("perm%d" % i, "account required %s require_permission=%s\n"
                                     % (base, p))
    names["staff"] = svc.add("staff", "account required %s require_staff\n" % base)
    names["superuser"] = svc.add("su", "account required %s require_superuser\n" % base)
    names["devs|ops"] = svc.add("anyof", "account required %s require_group=devs,ops\n" % base)
    names["view_group&change_user"] = svc.add(
        "allof", "account required %s require_permission=auth.view_group "
                 "require_permission=auth.change_user\n" % base)
    return svc, names


def all_names(pop):
    return [u["username"] for u in pop.spec["users"]] + list(pop.spec["ghosts"])


def expected_account(pop, name, allowed):
    """PAM code for the account phase; `allowed(e)` says whether an active
    user meets the requirement."""
    e = pop.expected["users"][name]
    if refused_by_module(name) or e.get("id") is None:
        return "PAM_USER_UNKNOWN"
    if not e["is_active"]:
        return "PAM_ACCT_EXPIRED"
    return "PAM_SUCCESS" if allowed(e) else "PAM_PERM_DENIED"


def run_accounts(svc, service, names):
    return {r["user"]: r for r in harness(svc.path, service, [(n,) for n in names], ops="acct")}


# --- auth ----------------------------------------------------------------------------

def test_auth_equals_check_password(daemon, services):
    pop = daemon.db
    svc, names = services
    reqs, want = [], []
    for u in pop.spec["users"]:
        e = pop.expected["users"][u["username"]]
        for pw, key in ((u["password"], "right"), (u["password"] + "x", "wrong")):
            reqs.append((u["username"], pw))
            want.append("PAM_USER_UNKNOWN" if refused_by_module(u["username"]) else AUTH[e[key]])
    for g in pop.spec["ghosts"]:
        reqs.append((g, "whatever"))
        want.append(AUTH[pop.expected["users"][g]["right"]])
    t0 = time.monotonic()
    got = harness(svc.path, names["web"], reqs, ops="auth")
    elapsed = time.monotonic() - t0
    mismatches = [(r[0], w, g["auth"]) for r, w, g in zip(reqs, want, got) if w != g["auth"]]
    assert not mismatches
    # mod_authnz_pam's conversation: one echo-off prompt, nothing else
    assert all(g["other_msgs"] == 0 for g in got)
    assert all(g["prompts"] == (0 if refused_by_module(g["user"]) else 1) for g in got)
    # every outcome is covered
    assert {"PAM_SUCCESS", "PAM_AUTH_ERR", "PAM_USER_UNKNOWN"} <= set(want)
    print("\n%d authentications through libpam in %.2f s" % (len(reqs), elapsed))


def test_auth_then_account_like_mod_authnz_pam(daemon, services):
    """pam_authenticate, then pam_acct_mgmt only after a success."""
    pop = daemon.db
    svc, names = services
    reqs = [(u["username"], u["password"]) for u in pop.spec["users"]]
    got = harness(svc.path, names["web"], reqs, chain=True)
    for (name, _), g in zip(reqs, got):
        e = pop.expected["users"][name]
        if refused_by_module(name):
            assert (g["auth"], g["acct"]) == ("PAM_USER_UNKNOWN", "-")
        elif e["right"] is True:
            # check_password True means active; the plain account check passes
            assert (g["auth"], g["acct"]) == ("PAM_SUCCESS", "PAM_SUCCESS"), name
        else:
            assert g["acct"] == "-" and g["auth"] == AUTH[e["right"]], name


# --- account -------------------------------------------------------------------------

def test_account_require_group_equals_groups_for_user(daemon, services):
    pop = daemon.db
    svc, names = services
    everyone = all_names(pop)
    bad = []
    for g in pop.spec["groups"]:
        got = run_accounts(svc, names["group:" + g], everyone)
        for n in everyone:
            want = expected_account(pop, n, lambda e: g in e["groups"])
            if got[n]["acct"] != want:
                bad.append((g, n, want, got[n]["acct"]))
    assert not bad


def test_account_require_permission_equals_has_perm(daemon, services):
    pop = daemon.db
    svc, names = services
    everyone = all_names(pop)
    bad = []
    for p in pop.spec["probe_perms"]:
        got = run_accounts(svc, names["perm:" + p], everyone)
        for n in everyone:
            want = expected_account(pop, n, lambda e: e["perms"][p])
            if got[n]["acct"] != want:
                bad.append((p, n, want, got[n]["acct"]))
    assert not bad
    # superusers have every permission, even one that does not exist
    assert any(e.get("is_superuser") and e["is_active"] and e["perms"]["nosuch.thing"]
               for e in pop.expected["users"].values() if e.get("id"))


def test_account_staff_superuser_anyof_allof(daemon, services):
    pop = daemon.db
    svc, names = services
    everyone = all_names(pop)
    checks = {
        "staff": lambda e: e["is_staff"],
        "superuser": lambda e: e["is_superuser"],
        "devs|ops": lambda e: "devs" in e["groups"] or "ops" in e["groups"],
        "view_group&change_user": lambda e: e["perms"]["auth.view_group"] and e["perms"]["auth.change_user"],
    }
    for key, allowed in checks.items():
        got = run_accounts(svc, names[key], everyone)
        bad = [(n, expected_account(pop, n, allowed), got[n]["acct"]) for n in everyone
               if got[n]["acct"] != expected_account(pop, n, allowed)]
        assert not bad, key
        outcomes = {got[n]["acct"] for n in everyone}
        assert {"PAM_SUCCESS", "PAM_PERM_DENIED", "PAM_ACCT_EXPIRED", "PAM_USER_UNKNOWN"} <= outcomes


# --- pamtester, a representative subset -------------------------------------------------

def representative(pop):
    """One user per (hasher, outcome), plus inactive, unusable and ghosts."""
    seen, picked = set(), []
    for u in pop.spec["users"]:
        e = pop.expected["users"][u["username"]]
        key = (u["hasher"], e["right"], refused_by_module(u["username"]))
        if key not in seen:
            seen.add(key)
            picked.append(u)
    return picked


def test_pamtester_subset(daemon, services):
    pop = daemon.db
    svc, names = services
    checked = 0
    for u in representative(pop):
        e = pop.expected["users"][u["username"]]
        for pw, key in ((u["password"], "right"), (u["password"] + "x", "wrong")):
            want = "PAM_USER_UNKNOWN" if refused_by_module(u["username"]) else AUTH[e[key]]
            p = pamtester(svc.path, names["web"], u["username"], pw, items={"rhost": "192.0.2.33"})
            out = p.stdout + p.stderr
            if want == "PAM_SUCCESS":
                assert p.returncode == 0, (u["username"], out)
                assert "successfully authenticated" in out and "account management done" in out
            else:
                assert p.returncode != 0 and STRERROR[want] in out, (u["username"], want, out)
            checked += 1
    for g in pop.spec["ghosts"]:
        p = pamtester(svc.path, names["web"], g, "whatever")
        assert p.returncode != 0 and STRERROR["PAM_USER_UNKNOWN"] in p.stdout + p.stderr
    # account refusals as pamtester shows them
    inactive = next(u for u in pop.spec["users"] if not u["is_active"] and not refused_by_module(u["username"]))
    p = pamtester(svc.path, names["web"], inactive["username"], "", ops=("acct_mgmt",))
    assert p.returncode != 0 and STRERROR["PAM_ACCT_EXPIRED"] in p.stdout + p.stderr
    outsider = next(n for n in all_names(pop) if expected_account(pop, n, lambda e: e["is_superuser"]) == "PAM_PERM_DENIED")
    p = pamtester(svc.path, names["superuser"], outsider, "", ops=("acct_mgmt",))
    assert p.returncode != 0 and STRERROR["PAM_PERM_DENIED"] in p.stdout + p.stderr
    assert checked >= 10


# --- daemons of our own: stopped, database down, password changes -------------------------

def sqlite_copy(pop, dest):
    shutil.copyfile(pop.db_section["name"], dest)
    return dict(pop.db_section, name=str(dest))


def django_check(db_path, user, password):
    """modwsgi.check_password on the SQLite file at db_path, by real Django."""
    code = ("import django; django.setup()\n"
            "from django.contrib.auth.handlers.modwsgi import check_password\n"
            "import sys; print(json.dumps(check_password({}, sys.argv[1], sys.argv[2])))\n")
    env = django_env(db_engine="sqlite3", db_name=db_path)
    r = subprocess.run(["/usr/bin/python3", "-c", "import json\n" + code, user, password],
                       env=env, capture_output=True, text=True, timeout=120, cwd=str(DJANGO_DIR))
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def first_user(pop, pred):
    return next(u for u in pop.spec["users"] if not refused_by_module(u["username"]) and pred(u))


def test_stopped_daemon_is_authinfo_unavail(sqlite_population, tmp_path):
    d = Daemon(BUILD, tmp_path / "d", sqlite_copy(sqlite_population, tmp_path / "db.sqlite3"),
               sqlite_population)
    d.start()
    svc = ServiceDir(tmp_path / "pam.d")
    s = svc.simple("web", d.socket)
    ign = svc.add("ign", "auth [success=done ignore=ignore default=die] pam_django.so socket=%s "
                         "nodelay ignore_authinfo_unavail\n"
                         "auth required pam_debug.so auth=cred_insufficient\n" % d.socket)
    u = first_user(sqlite_population, lambda u: sqlite_population.expected["users"][u["username"]]["right"])
    assert harness1(svc.path, s, u["username"], u["password"])["auth"] == "PAM_SUCCESS"
    d.cleanup()
    t0 = time.monotonic()
    r = harness1(svc.path, s, u["username"], u["password"])
    assert (r["auth"], r["acct"]) == ("PAM_AUTHINFO_UNAVAIL", "PAM_AUTHINFO_UNAVAIL")
    assert time.monotonic() - t0 < 2 * 2 + 1     # within the client's timeout, per phase
    assert harness1(svc.path, ign, u["username"], u["password"], ops="auth")["auth"] == "PAM_CRED_INSUFFICIENT"
    p = pamtester(svc.path, s, u["username"], u["password"])
    assert p.returncode != 0 and STRERROR["PAM_AUTHINFO_UNAVAIL"] in p.stdout + p.stderr


@pytest.mark.parametrize("population", ["pg_population", "mysql_population"])
def test_database_down_is_authinfo_unavail(population, request, tmp_path):
    """A daemon whose PostgreSQL (or MySQL) is unreachable answers Unavailable."""
    pop = request.getfixturevalue(population)
    section = dict(pop.db_section, port=str(free_port()), host="127.0.0.1")
    d = Daemon(BUILD, tmp_path / "d", section, pop)
    try:
        d.start()   # it starts without its database, and connects when it can
        svc = ServiceDir(tmp_path / "pam.d")
        s = svc.simple("web", d.socket, common="nodelay timeout=10")
        u = first_user(pop, lambda u: True)
        r = harness1(svc.path, s, u["username"], u["password"])
        assert (r["auth"], r["acct"]) == ("PAM_AUTHINFO_UNAVAIL", "PAM_AUTHINFO_UNAVAIL")
        assert d.alive()
    finally:
        d.cleanup()


def test_password_change_end_to_end(sqlite_population, tmp_path):
    pop = sqlite_population
    db = tmp_path / "db.sqlite3"
    d = Daemon(BUILD, tmp_path / "d", sqlite_copy(pop, db), pop, passwords={"allow_change": True})
    d.start()
    try:
        svc = ServiceDir(tmp_path / "pam.d")
        s = svc.simple("passwd", d.socket)
        u = first_user(pop, lambda u: pop.expected["users"][u["username"]]["right"] is True)
        new = "Brand-new pässword 42"
        # wrong current password: nothing changes
        r = harness1(svc.path, s, u["username"], "not-the-password", new, new, ops="chauthtok")
        assert r["chauthtok"] == "PAM_AUTH_ERR"
        # too short for minlen=8
        r = harness1(svc.path, s, u["username"], u["password"], "short", ops="chauthtok")
        assert r["chauthtok"] == "PAM_AUTHTOK_ERR"
        assert django_check(str(db), u["username"], u["password"]) is True
        # the real change
        r = harness1(svc.path, s, u["username"], u["password"], new, new, ops="chauthtok")
        assert r["chauthtok"] == "PAM_SUCCESS" and r["prompts"] == 3
        assert django_check(str(db), u["username"], new) is True
        assert django_check(str(db), u["username"], u["password"]) is False
        web = svc.simple("web", d.socket)
        assert harness1(svc.path, web, u["username"], new, ops="auth")["auth"] == "PAM_SUCCESS"
        assert harness1(svc.path, web, u["username"], u["password"], ops="auth")["auth"] == "PAM_AUTH_ERR"
        # an inactive user cannot change anything
        v = first_user(pop, lambda u: not u["is_active"])
        r = harness1(svc.path, s, v["username"], v["password"], new, new, ops="chauthtok")
        assert r["chauthtok"] == "PAM_USER_UNKNOWN"
    finally:
        d.cleanup()


def test_password_change_disabled_by_default(daemon_sqlite, tmp_path):
    pop = daemon_sqlite.db
    svc = ServiceDir(tmp_path / "pam.d")
    s = svc.simple("passwd", daemon_sqlite.socket)
    u = first_user(pop, lambda u: pop.expected["users"][u["username"]]["right"] is True)
    r = harness1(svc.path, s, u["username"], u["password"], "x" * 12, "x" * 12, ops="chauthtok")
    assert r["chauthtok"] == "PAM_PERM_DENIED" and r["other_msgs"] == 0   # PAM_SILENT
    p = pamtester(svc.path, s, u["username"], u["password"], ops=("chauthtok",))
    assert p.returncode != 0
    assert "Password changes are disabled" in p.stdout + p.stderr


def test_use_first_pass_behind_pam_unix(daemon_sqlite, tmp_path):
    pop = daemon_sqlite.db
    svc = ServiceDir(tmp_path / "pam.d")
    s = svc.add("common", "auth [success=done default=ignore] pam_unix.so nodelay\n"
                          "auth required pam_django.so socket=%s nodelay use_first_pass\n"
                          % daemon_sqlite.socket)
    u = first_user(pop, lambda u: pop.expected["users"][u["username"]]["right"] is True)
    r = harness1(svc.path, s, u["username"], u["password"], ops="auth")
    assert r["auth"] == "PAM_SUCCESS" and r["prompts"] == 1
    r = harness1(svc.path, s, u["username"], u["password"] + "x", ops="auth")
    assert r["auth"] == "PAM_AUTH_ERR" and r["prompts"] == 1


# --- timing, for the record -------------------------------------------------------------------

def set_password(db_path, user, password, iterations):
    code = ("import django, sys; django.setup()\n"
            "from django.contrib.auth.hashers import PBKDF2PasswordHasher\n"
            "from django.contrib.auth.models import User\n"
            "h = PBKDF2PasswordHasher()\n"
            "User.objects.filter(username=sys.argv[1]).update(password=h.encode(sys.argv[2], h.salt(), int(sys.argv[3])))\n")
    env = django_env(db_engine="sqlite3", db_name=db_path)
    r = subprocess.run(["/usr/bin/python3", "-c", code, user, password, str(iterations)], env=env,
                       capture_output=True, text=True, timeout=300, cwd=str(DJANGO_DIR))
    assert r.returncode == 0, r.stderr


def test_timing_pamtester(sqlite_population, tmp_path):
    """pamtester authenticate + acct_mgmt, wall time per run, with a 1,000- and a
    1,200,000-iteration pbkdf2_sha256 hash. Written to BUILD/pam_timing.json."""
    pop = sqlite_population
    db = tmp_path / "db.sqlite3"
    sqlite_copy(pop, db)
    fast = first_user(pop, lambda u: u["is_active"] and u["hasher"] != "unusable")
    slow = first_user(pop, lambda u: u["is_active"] and u["hasher"] != "unusable" and u is not fast)
    set_password(str(db), fast["username"], "timing-pw", 1000)
    set_password(str(db), slow["username"], "timing-pw", 1_200_000)
    d = Daemon(BUILD, tmp_path / "d", dict(pop.db_section, name=str(db)), pop)
    d.start()
    try:
        svc = ServiceDir(tmp_path / "pam.d")
        s = svc.simple("web", d.socket, common="nodelay timeout=30")
        result = {}
        for label, user, n in (("pbkdf2_sha256 1000", fast["username"], 20),
                               ("pbkdf2_sha256 1200000", slow["username"], 5)):
            times = []
            for _ in range(n):
                t0 = time.monotonic()
                p = pamtester(svc.path, s, user, "timing-pw")
                times.append(time.monotonic() - t0)
                assert p.returncode == 0, p.stdout + p.stderr
            times.sort()
            result[label] = {"runs": n, "median_ms": round(1000 * times[n // 2], 1),
                             "min_ms": round(1000 * times[0], 1), "max_ms": round(1000 * times[-1], 1)}
        # the same through the in-process harness (no pam_wrapper, no exec)
        reqs = [(fast["username"], "timing-pw")] * 50
        t0 = time.monotonic()
        got = harness(svc.path, s, reqs)
        result["harness auth+acct, 1000 iterations, per request"] = {
            "ms": round(1000 * (time.monotonic() - t0) / len(reqs), 2)}
        assert all(g["auth"] == "PAM_SUCCESS" and g["acct"] == "PAM_SUCCESS" for g in got)
        result["sanitized"] = SANITIZE
        (BUILD / "pam_timing.json").write_text(json.dumps(result, indent=2))
        print("\n" + json.dumps(result, indent=2))
    finally:
        d.cleanup()
