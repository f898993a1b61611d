"""libnss_django.so.2 end to end: real programs (getent, id, and
tests/helpers/nss_probe) through real glibc NSS, in a private mount
namespace whose nsswitch.conf says `files django`, against the real
django-authd serving a database that real Django made
(fixtures_daemon.daemon_sqlite / daemon_pg over fixtures_db's population).

The expected entries come from Django's own answers (population.expected)
and the documented mapping: uid = 200000 + Django id, gid = 200000 + group id,
primary group 100, gecos "first last", home /home/NAME, shell /bin/bash;
names NSS cannot carry are absent; groups list active members."""
import os
import pathlib
import signal
import statistics
import tempfile
import time

import pytest

from conftest import BUILD, SANITIZE
from fixtures_daemon import GID_BASE, UID_BASE, Daemon
from nss_harness import NssRunner

NSS_BAD_CHARS = set(":, \t\n")


def nss_ok(name):
    return bool(name) and name[0] not in "+-" and not (NSS_BAD_CHARS & set(name)) and "/" not in name


def expected_passwd(pop):
    """{name: getent line} for every user NSS can carry."""
    out = {}
    for name, e in pop.expected["users"].items():
        if e.get("id") is None or not nss_ok(name):
            continue
        gecos = " ".join(x for x in (e["first_name"], e["last_name"]) if x).replace(":", "")
        out[name] = "%s:x:%d:100:%s:/home/%s:/bin/bash" % (name, UID_BASE + e["id"], gecos, name)
    return out


def expected_groups(pop):
    out = {}
    for name, g in pop.expected["groups"].items():
        if not nss_ok(name):
            continue
        members = [m for m in g["active_members"] if nss_ok(m)]
        out[name] = "%s:x:%d:%s" % (name, GID_BASE + g["id"], ",".join(members))
    return out


def expected_gids(pop, name):
    e = pop.expected["users"][name]
    return sorted(GID_BASE + pop.expected["groups"][g]["id"] for g in e["groups"] if nss_ok(g))


@pytest.fixture(scope="module", params=["sqlite", "pg", "mysql"])
def daemon(request):
    return request.getfixturevalue("daemon_" + request.param)


@pytest.fixture(scope="module")
def ns(daemon):
    return NssRunner(BUILD, daemon.socket, sanitize=SANITIZE)


@pytest.fixture(scope="module")
def sqlite_daemon(daemon_sqlite):
    return daemon_sqlite


@pytest.fixture(scope="module")
def sns(daemon_sqlite):
    return NssRunner(BUILD, daemon_sqlite.socket, sanitize=SANITIZE)


@pytest.fixture(scope="module")
def sns_django_only(daemon_sqlite):
    return NssRunner(BUILD, daemon_sqlite.socket, sanitize=SANITIZE,
                     nsswitch="passwd: django\ngroup: django\n")


def lines(p, ok=(0,)):
    assert p.returncode in ok, (p.returncode, p.stdout[-2000:], p.stderr[-2000:])
    return p.stdout.splitlines()


def requests(daemon):
    with daemon.client() as c:
        return int(c.stats()["requests"])


def request_delta(daemon, fn):
    """Daemon requests made while fn() ran (the Stats calls discounted)."""
    a = requests(daemon)
    b = requests(daemon)
    overhead = b - a
    fn()
    c = requests(daemon)
    return c - b - overhead


# --- lookups, compared with Django --------------------------------------------------

def test_every_user_by_name(daemon, ns):
    want = expected_passwd(daemon.db)
    got = lines(ns.getent("passwd", *sorted(want)))
    assert got == [want[n] for n in sorted(want)]


def test_every_user_by_uid(daemon, ns):
    want = expected_passwd(daemon.db)
    uids = [w.split(":")[2] for w in want.values()]
    got = lines(ns.getent("passwd", *uids))
    assert sorted(got) == sorted(want.values())


def test_names_nss_cannot_carry_and_ghosts(daemon, ns):
    pop = daemon.db
    odd = [n for n, e in pop.expected["users"].items() if e.get("id") is not None and not nss_ok(n)]
    assert odd   # the population has some
    for name in odd + pop.spec["ghosts"]:
        p = ns.getent("passwd", "--", name)
        assert p.returncode == 2 and p.stdout == "", name
        assert lines(ns.probe("pw", name)) == ["notfound"], name
    # By uid too: the odd names' ids have no entry.
    for name in odd:
        assert ns.getent("passwd", str(UID_BASE + pop.expected["users"][name]["id"])).returncode == 2


def test_every_group(daemon, ns):
    want = expected_groups(daemon.db)
    got = lines(ns.getent("group", *sorted(want)))
    assert got == [want[n] for n in sorted(want)]
    gids = [w.split(":")[2] for w in want.values()]
    assert sorted(lines(ns.getent("group", *gids))) == sorted(want.values())
    for name, g in daemon.db.expected["groups"].items():
        if not nss_ok(name):
            assert ns.getent("group", "--", name).returncode == 2, name
            assert lines(ns.probe("gr", name)) == ["notfound"], name
            assert ns.getent("group", str(GID_BASE + g["id"])).returncode == 2


def test_initgroups_every_user(daemon, ns):
    pop = daemon.db
    names = sorted(expected_passwd(pop))
    got = {}
    for line in lines(ns.getent("initgroups", *names)):
        parts = line.split()
        got[parts[0]] = sorted(int(g) for g in parts[1:])
    for name in names:
        # Django's groups_for_user (active users only), as gids.
        assert got.get(name, []) == expected_gids(pop, name), name


def test_id(daemon, ns):
    pop = daemon.db
    want_pw = expected_passwd(pop)
    gid_name = {GID_BASE + g["id"]: n for n, g in pop.expected["groups"].items()}
    checked = 0
    for name in sorted(want_pw)[:40]:
        uid = int(want_pw[name].split(":")[2])
        gids = expected_gids(pop, name)
        groups = ["100(users)"] + ["%d(%s)" % (g, gid_name[g]) for g in gids]
        want = "uid=%d(%s) gid=100(users) groups=%s" % (uid, name, ",".join(groups))
        assert lines(ns.run(["id", name])) == [want]
        checked += bool(gids)
    assert checked > 5


def test_getgrouplist_tiny_array(daemon, ns):
    pop = daemon.db
    name = next(n for n in sorted(expected_passwd(pop)) if len(expected_gids(pop, n)) >= 2)
    got = lines(ns.probe("grouplist", name, "100"))[0]
    assert got == " ".join(str(g) for g in sorted([100] + expected_gids(pop, name)))


def test_enumeration(daemon, ns):
    want = expected_passwd(daemon.db)
    got = lines(ns.getent("passwd"))
    ours = [l for l in got if l.split(":")[0] in want]
    by_uid = sorted(want.values(), key=lambda l: int(l.split(":")[2]))
    assert ours == by_uid
    assert got[0].startswith("root:")
    wantg = expected_groups(daemon.db)
    gotg = [l for l in lines(ns.getent("group")) if l.split(":")[0] in wantg]
    assert gotg == sorted(wantg.values(), key=lambda l: int(l.split(":")[2]))


@pytest.mark.parametrize("db", ["pw", "gr"])
def test_enumeration_from_threads(sqlite_daemon, sns, db):
    names = lines(sns.probe("enum-threads", "6", db))
    want = expected_passwd(sqlite_daemon.db) if db == "pw" else expected_groups(sqlite_daemon.db)
    for name in want:
        assert names.count(name) == 1, name


# --- the ERANGE retry asks the daemon once -------------------------------------------

def test_tiny_buffers_ask_the_daemon_once(sqlite_daemon, sns_django_only):
    # Over the socket (the shared cache file off): a warm answer from the
    # file would ask the daemon no time at all (test_nss_mmap.py).
    socket_only = {"DJANGO_AUTH_NSS_MMAP": "0"}
    pop = sqlite_daemon.db
    wantg = expected_groups(pop)
    group = max(wantg, key=lambda n: len(wantg[n]))   # the most members
    out = []
    n = request_delta(sqlite_daemon, lambda: out.append(lines(sns_django_only.probe("tiny-gr", group,
                                                                                    env_extra=socket_only))))
    assert out[0][0].startswith("ok tries=")
    assert int(out[0][0].split("size=")[1]) > 100
    assert out[0][1] == wantg[group]
    assert n == 1, n
    wantp = expected_passwd(pop)
    user = sorted(wantp)[0]
    n = request_delta(sqlite_daemon, lambda: out.append(lines(sns_django_only.probe("tiny-pw", user,
                                                                                    env_extra=socket_only))))
    assert out[1][1] == wantp[user]
    assert n == 1, n


# --- threads and fork ------------------------------------------------------------------

def test_threads(sqlite_daemon, sns):
    pop = sqlite_daemon.db
    user = next(n for n in sorted(expected_passwd(pop)) if expected_gids(pop, n))
    p = sns.probe("threads", "16", "50", user, "devs", timeout=300)
    assert p.returncode == 0 and "mismatches 0" in p.stdout, p.stdout + p.stderr


def test_fork(sqlite_daemon, sns):
    pop = sqlite_daemon.db
    user = next(n for n in sorted(expected_passwd(pop)) if expected_gids(pop, n))
    p = sns.probe("fork", user, "devs", "30", "0" if SANITIZE else "3", timeout=300)
    assert p.returncode == 0 and "bad children 0" in p.stdout, p.stdout + p.stderr


# --- a daemon of our own to stop --------------------------------------------------------

@pytest.fixture
def own_daemon(sqlite_population, tmp_path):
    d = Daemon(BUILD, tmp_path / "authd", sqlite_population.db_section, sqlite_population)
    d.start()
    yield d
    if d.proc is not None and d.proc.poll() is None:
        d.proc.send_signal(signal.SIGCONT)
    d.cleanup()


def test_daemon_stopped(own_daemon):
    r = NssRunner(BUILD, own_daemon.socket, sanitize=SANITIZE)
    user = sorted(expected_passwd(own_daemon.db))[0]
    assert lines(r.getent("passwd", user)) == [expected_passwd(own_daemon.db)[user]]
    own_daemon.stop()
    for args in (("passwd", user), ("group", "devs"), ("initgroups", user)):
        p = r.getent(*args)
        assert p.elapsed < 2.5, (args, p.elapsed)
        assert p.returncode == 2 or (args[0] == "initgroups" and p.stdout.split() == [user]), (args, p.stdout)
    p = r.getent("passwd", "root")
    assert p.returncode == 0 and p.stdout.startswith("root:x:0:0:") and p.elapsed < 1.0
    p = r.run(["id", "root"])
    assert p.returncode == 0 and p.elapsed < 1.0
    assert r.getent("passwd").returncode == 0   # files enumerate alone
    # Back up: answers again.
    own_daemon.start()
    assert lines(r.getent("passwd", user)) == [expected_passwd(own_daemon.db)[user]]


def test_daemon_frozen(own_daemon):
    """A daemon that accepts but never answers (SIGSTOP): every lookup gives
    up within the bound and `files` keeps answering."""
    r = NssRunner(BUILD, own_daemon.socket, sanitize=SANITIZE)
    user = sorted(expected_passwd(own_daemon.db))[1]
    own_daemon.proc.send_signal(signal.SIGSTOP)
    try:
        p = r.getent("passwd", user)
        assert p.returncode == 2 and p.elapsed < 3.0, p.elapsed
        p = r.getent("group", "root")
        assert p.returncode == 0 and p.elapsed < 1.0
        p = r.run(["id", user])
        assert p.returncode == 1 and p.elapsed < 3.5, p.elapsed
    finally:
        own_daemon.proc.send_signal(signal.SIGCONT)
    assert lines(r.getent("passwd", user)) == [expected_passwd(own_daemon.db)[user]]
