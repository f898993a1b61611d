"""django-authd against real Django, on SQLite and on PostgreSQL: for every
user of the population, the daemon's answers equal Django's
(modwsgi check_password and groups_for_user, User.has_perm), and its passwd
and group entries follow the documented mapping."""
import re

import pytest

from fixtures_daemon import GID_BASE, UID_BASE

NSS_BAD_CHARS = set(":, \t\n")


def nss_ok(name):
    return bool(name) and name[0] not in "+-" and not (NSS_BAD_CHARS & set(name)) and "/" not in name


@pytest.fixture(scope="module", params=["sqlite", "pg", "mysql"])
def daemon(request):
    return request.getfixturevalue("daemon_" + request.param)


AUTH_MAP = {"Ok": True, "WrongPassword": False, "NoUser": None}


def test_authenticate_matches_django(daemon):
    pop = daemon.db
    mismatches = []
    with daemon.client() as c:
        for u in pop.spec["users"]:
            exp = pop.expected["users"][u["username"]]
            got_right = AUTH_MAP.get(c.authenticate(u["username"], u["password"], "test", "127.0.0.1"))
            got_wrong = AUTH_MAP.get(c.authenticate(u["username"], u["password"] + "x"))
            if (got_right, got_wrong) != (exp["right"], exp["wrong"]):
                mismatches.append((u["username"], u["hasher"], got_right, got_wrong, exp["right"], exp["wrong"]))
        for ghost in pop.spec["ghosts"]:
            assert c.authenticate(ghost, "whatever") == "NoUser"
            assert pop.expected["users"][ghost]["right"] is None
    assert not mismatches
    # The population covers every outcome.
    outcomes = {(e["right"], e["wrong"]) for e in pop.expected["users"].values() if e["id"]}
    assert {(True, False), (False, False), (None, None)} <= outcomes


def test_groups_match_django(daemon):
    pop = daemon.db
    gid_to_name = {GID_BASE + g["id"]: name for name, g in pop.expected["groups"].items()}
    with daemon.client() as c:
        for name, exp in pop.expected["users"].items():
            got = c.groups_of_user(name)
            if not nss_ok(name) or exp["id"] is None:
                assert got == "NotFound", name
                continue
            assert sorted(gid_to_name[g] for g in got) == sorted(g for g in exp["groups"] if nss_ok(g)), name


def test_permissions_match_django(daemon):
    pop = daemon.db
    with daemon.client() as c:
        for name, exp in pop.expected["users"].items():
            if exp["id"] is None:
                assert c.account(name)[0] == "NoUser"
                continue
            for perm, allowed in exp["perms"].items():
                st, reason = c.account(name, perms=[perm])
                if not exp["is_active"]:
                    assert st == "Inactive" and not allowed, (name, perm)
                else:
                    assert (st == "Ok") == allowed, (name, perm, st, reason)
            # All of several permissions are required.
            st, _ = c.account(name, perms=list(exp["perms"]))
            assert (st == "Ok") == all(exp["perms"].values()), name


def test_account_requirements(daemon):
    pop = daemon.db
    with daemon.client() as c:
        for name, exp in pop.expected["users"].items():
            if exp["id"] is None or not exp["is_active"]:
                continue
            assert (c.account(name, flags=1)[0] == "Ok") == exp["is_staff"], name
            assert (c.account(name, flags=2)[0] == "Ok") == exp["is_superuser"], name
            want = ["devs", "ops"]
            st, reason = c.account(name, any_of=want)
            assert (st == "Ok") == bool(set(want) & set(exp["groups"])), (name, st, reason)
            if st != "Ok":
                assert st == "PermDenied" and reason


def test_passwd_entries(daemon):
    pop = daemon.db
    expected = {}
    with daemon.client() as c:
        for name, exp in pop.expected["users"].items():
            if exp["id"] is None:
                assert c.pw_by_name(name) == "NotFound"
                continue
            got = c.pw_by_name(name)
            if not nss_ok(name):
                assert got == "NotFound", name
                assert c.pw_by_uid(UID_BASE + exp["id"]) == "NotFound"
                continue
            gecos = " ".join(x for x in (exp["first_name"], exp["last_name"]) if x).replace(":", "")
            want = dict(name=name, uid=UID_BASE + exp["id"], gid=100, gecos=gecos, dir="/home/" + name,
                        shell="/bin/bash")
            # Inactive users keep their passwd entry (files they own still resolve).
            assert got == want, name
            assert c.pw_by_uid(want["uid"]) == want
            expected[want["uid"]] = want
        listed = c.pw_list(page=37)
        assert [p["uid"] for p in listed] == sorted(expected)
        assert {p["uid"]: p for p in listed} == expected
        # Out of range or unknown ids.
        for uid in (0, 100, UID_BASE, UID_BASE + 100000, 2**32 - 1):
            assert c.pw_by_uid(uid) == "NotFound"


def test_group_entries(daemon):
    pop = daemon.db
    expected = {}
    with daemon.client() as c:
        for name, exp in pop.expected["groups"].items():
            got = c.gr_by_name(name)
            if not nss_ok(name):
                assert got == "NotFound", name
                assert c.gr_by_gid(GID_BASE + exp["id"]) == "NotFound"
                continue
            members = [m for m in exp["active_members"] if nss_ok(m)]
            want = dict(name=name, gid=GID_BASE + exp["id"], members=members)
            assert got == want, name
            assert c.gr_by_gid(want["gid"]) == want
            expected[want["gid"]] = want
        listed = c.gr_list(page=3)
        assert {g["gid"]: g for g in listed} == expected
        assert c.gr_by_name("nosuchgroup") == "NotFound"
        assert c.gr_by_gid(GID_BASE) == "NotFound"


def test_no_hash_ever_leaves(daemon):
    pop = daemon.db
    with daemon.client() as c:
        blobs = [repr(c.pw_list()), repr(c.gr_list())]
        for u in pop.spec["users"][:40]:
            blobs.append(repr(c.pw_by_name(u["username"])))
            blobs.append(repr(c.account(u["username"], perms=["nosuch.perm"])))
        # The counters name the hashers and their parameters ("hash_argon2
        # time_cost=2 ..."), never a value: no '$', no run of hex digits.
        stats = "\n".join("%s %s" % kv for kv in c.stats().items())
    text = "".join(blobs)
    for marker in ("pbkdf2_", "argon2", "bcrypt", "scrypt$", "sha1$"):
        assert marker not in text
    assert "hash_argon2 time_cost=" in stats
    assert "$" not in stats and not re.search(r"[0-9a-f]{20}", stats), stats
    assert "pw-0" not in daemon.log_text()


def test_cache_and_flush(daemon):
    with daemon.client() as c:
        before = int(c.stats()["cache_hits"])
        c.pw_by_name("user002")
        c.pw_by_name("user002")
        assert int(c.stats()["cache_hits"]) > before
        assert c.flush() == "Ok"
        assert c.stats()["cache_entries"] == "0"
