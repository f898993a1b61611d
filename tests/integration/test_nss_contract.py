"""libnss_django.so.2 under real glibc NSS, against a scripted stand-in
daemon (nss_harness.FakeDaemon) so that every reply and every request count
is known exactly: the glibc contract (ERANGE and the retry that must not ask
the daemon again, NOTFOUND, UNAVAIL within the bound while `files` still
answers), paged enumeration, initgroups, threads, fork, recursion guards and
the socket trust rule. test_nss_daemon.py runs the same programs against the
real django-authd on a Django-made database."""
import os
import pathlib
import shutil
import socket
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import BUILD, SANITIZE
from nss_harness import FakeDaemon, NssRunner
from sysarch import LIBDIR

USERS = [("alice", 20001, 20001, "Alice Liddell,Room 1", "/home/alice", "/bin/bash"),
         ("bob", 20002, 20001, "", "/home/bob", "/bin/sh")]
USERS += [("user%02d" % i, 20100 + i, 20001, "User %d" % i, "/home/user%02d" % i, "/bin/sh") for i in range(30)]
BIG_MEMBERS = ["member-with-a-long-name-%05d" % i for i in range(3000)]
GROUPS = [("devs", 30001, ["alice", "bob"]), ("ops", 30002, ["alice"]), ("empty", 30003, []),
          ("big", 30004, BIG_MEMBERS)]
GROUPS += [("team%02d" % i, 30100 + i, ["user%02d" % i]) for i in range(20)]
MEMBERSHIPS = {"alice": [30001, 30002, 20001], "bob": [30001], "user00": []}

PW_LINE = {u[0]: "%s:x:%d:%d:%s:%s:%s" % (u[0], u[1], u[2], u[3], u[4], u[5]) for u in USERS}
GR_LINE = {g[0]: "%s:x:%d:%s" % (g[0], g[1], ",".join(g[2])) for g in GROUPS}


@pytest.fixture(scope="module")
def fake():
    d = tempfile.mkdtemp(prefix="dj-fake-")
    os.chmod(d, 0o755)
    f = FakeDaemon(d, USERS, GROUPS, MEMBERSHIPS)
    yield f
    f.close()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def daemon(fake):
    fake.mode = "ok"
    fake.reset_counts()
    return fake


@pytest.fixture(scope="module")
def ns(fake):
    return NssRunner(BUILD, fake.path, sanitize=SANITIZE)


@pytest.fixture(scope="module")
def ns_django_only(fake):
    return NssRunner(BUILD, fake.path, sanitize=SANITIZE, nsswitch="passwd: django\ngroup: django\n")


def out(p):
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    return p.stdout.strip()


# --- single lookups ----------------------------------------------------------------

def test_getent_passwd_by_name_and_uid(ns, daemon):
    assert out(ns.getent("passwd", "alice")) == PW_LINE["alice"]
    assert out(ns.getent("passwd", "20002")) == PW_LINE["bob"]


def test_getent_group_by_name_and_gid(ns, daemon):
    assert out(ns.getent("group", "devs")) == GR_LINE["devs"]
    assert out(ns.getent("group", "30002")) == GR_LINE["ops"]
    assert out(ns.getent("group", "empty")) == GR_LINE["empty"]


def test_unknown_names_are_not_found(ns, daemon):
    for db, key in (("passwd", "nosuch"), ("passwd", "29999"), ("group", "nosuch"), ("group", "39999")):
        p = ns.getent(db, key)
        assert p.returncode == 2, (db, key, p.stdout, p.stderr)
        assert p.stdout == ""


def test_files_first(ns, daemon):
    assert out(ns.getent("passwd", "root")).startswith("root:x:0:0:")
    # `files` answered: the daemon was not asked.
    assert daemon.count("PwByName") == 0


def test_initgroups_and_id(ns, daemon):
    line = out(ns.getent("initgroups", "alice")).split()
    assert line[0] == "alice"
    assert sorted(int(g) for g in line[1:]) == [20001, 30001, 30002]
    assert out(ns.run(["id", "alice"])) == "uid=20001(alice) gid=20001 groups=20001,30001(devs),30002(ops)"
    assert out(ns.run(["id", "-G", "bob"])).split() == ["20001", "30001"]


def test_getgrouplist_with_a_tiny_array(ns, daemon):
    # Room for one gid first: glibc must report the real count, then fill.
    assert out(ns.probe("grouplist", "alice", "20001")) == "20001 30001 30002"
    assert out(ns.probe("grouplist", "bob", "20001")) == "20001 30001"
    assert out(ns.probe("grouplist", "user00", "20001")) == "20001"


# --- the ERANGE contract -----------------------------------------------------------

def group_need(name, members, misalign=1):
    pad = (8 - misalign % 8) % 8
    return pad + 8 * (len(members) + 1) + len(name) + 1 + 2 + sum(len(m) + 1 for m in members)


@pytest.mark.parametrize("group", ["devs", "empty", "ops"])
def test_tiny_group_buffers_ask_once(ns_django_only, daemon, group):
    members = dict((g[0], g[2]) for g in GROUPS)[group]
    lines = out(ns_django_only.probe("tiny-gr", group, "1")).splitlines()
    need = group_need(group, members, 1)
    # Every size below the exact need failed with ERANGE; the exact need fits.
    assert lines[0] == "ok tries=%d size=%d" % (need + 1, need)
    assert lines[1] == GR_LINE[group]
    assert daemon.count("GrByName") == 1


def test_tiny_group_buffers_aligned_start(ns_django_only, daemon):
    lines = out(ns_django_only.probe("tiny-gr", "devs", "0")).splitlines()
    assert lines[0] == "ok tries=%d size=%d" % (group_need("devs", ["alice", "bob"], 0) + 1,
                                                 group_need("devs", ["alice", "bob"], 0))
    assert daemon.count("GrByName") == 1


def test_tiny_passwd_buffers_ask_once(ns_django_only, daemon):
    u = USERS[0]
    need = len(u[0]) + 1 + 2 + len(u[3]) + 1 + len(u[4]) + 1 + len(u[5]) + 1
    lines = out(ns_django_only.probe("tiny-pw", "alice")).splitlines()
    assert lines[0] == "ok tries=%d size=%d" % (need + 1, need)
    assert lines[1] == PW_LINE["alice"]
    assert daemon.count("PwByName") == 1


def test_tiny_buffers_with_files_first(ns, daemon):
    lines = out(ns.probe("tiny-gr", "devs")).splitlines()
    assert lines[1] == GR_LINE["devs"]
    assert daemon.count("GrByName") == 1


def test_big_group_through_getent_asks_once(ns, daemon):
    # glibc starts with a 1 KiB buffer and doubles it on every ERANGE.
    line = out(ns.getent("group", "big"))
    assert line == GR_LINE["big"]
    assert daemon.count("GrByName") == 1
    # A later lookup is a new question.
    out(ns.getent("group", "big"))
    assert daemon.count("GrByName") == 2


def direct(ns, *args):
    p = ns.probe("direct", *args)
    assert p.returncode == 0, (p.stdout, p.stderr)
    lines = p.stdout.split("\n")
    return lines[0], lines[1]


def test_module_status_codes(ns, daemon):
    assert direct(ns, "pw", "alice", "1000") == ("status=SUCCESS errno=0", PW_LINE["alice"])
    assert direct(ns, "pw", "alice", "10") == ("status=TRYAGAIN errno=ERANGE", "")
    assert direct(ns, "pw", "nosuch", "1000") == ("status=NOTFOUND errno=ENOENT", "")
    assert direct(ns, "uid", "20001", "1000") == ("status=SUCCESS errno=0", PW_LINE["alice"])
    assert direct(ns, "uid", "4242", "1000") == ("status=NOTFOUND errno=ENOENT", "")
    assert direct(ns, "gr", "devs", "20") == ("status=TRYAGAIN errno=ERANGE", "")
    assert direct(ns, "gr", "devs", "1000") == ("status=SUCCESS errno=0", GR_LINE["devs"])
    assert direct(ns, "gid", "30003", "1000") == ("status=SUCCESS errno=0", GR_LINE["empty"])
    assert direct(ns, "gr", "", "1000") == ("status=NOTFOUND errno=ENOENT", "")


def test_initgroups_dyn_contract(ns, daemon):
    # The `group` argument is skipped, the array grows with realloc, and
    # `limit` caps it.
    assert direct(ns, "initgroups", "alice", "20001", "-1") == ("status=SUCCESS errno=0",
                                                                "start=3 size=4 gids=20001,30001,30002")
    assert direct(ns, "initgroups", "alice", "20001", "2") == ("status=SUCCESS errno=0",
                                                               "start=2 size=2 gids=20001,30001")
    assert direct(ns, "initgroups", "alice", "20001", "1") == ("status=SUCCESS errno=0",
                                                               "start=1 size=1 gids=20001")
    assert direct(ns, "initgroups", "user00", "20001", "0") == ("status=SUCCESS errno=0",
                                                                "start=1 size=1 gids=20001")
    assert direct(ns, "initgroups", "nosuch", "1", "0") == ("status=NOTFOUND errno=ENOENT",
                                                            "start=1 size=1 gids=1")


# --- never through itself ----------------------------------------------------------

def test_enablelookups_flag(ns, daemon):
    assert direct(ns, "pw", "alice", "1000", "disable") == ("status=UNAVAIL errno=ENOENT", "")
    assert direct(ns, "initgroups", "alice", "1", "0", "disable")[0] == "status=UNAVAIL errno=ENOENT"
    assert sum(daemon.counts.values()) == 0


def test_loops_environment(ns, daemon):
    env = {"DJANGO_AUTH_NSS_LOOPS": "NO"}
    assert ns.getent("passwd", "alice", env_extra=env).returncode == 2
    assert ns.getent("group", "devs", env_extra=env).returncode == 2
    assert out(ns.getent("passwd", "root", env_extra=env)).startswith("root:")
    assert sum(daemon.counts.values()) == 0
    # Any other value does not disable.
    assert out(ns.getent("passwd", "alice", env_extra={"DJANGO_AUTH_NSS_LOOPS": "YES"})) == PW_LINE["alice"]


# --- enumeration ---------------------------------------------------------------------

def test_enumerate_passwd(ns, daemon):
    lines = out(ns.getent("passwd")).splitlines()
    ours = [l for l in lines if l.split(":")[0] in PW_LINE]
    assert ours == [PW_LINE[u[0]] for u in sorted(USERS, key=lambda u: u[1])]
    assert lines[0].startswith("root:")   # files first
    # Paged: the stand-in answers at most 7 per page.
    assert daemon.count("PwList") == (len(USERS) + 6) // 7


def test_enumerate_group(ns, daemon):
    lines = out(ns.getent("group")).splitlines()
    ours = [l for l in lines if l.split(":")[0] in GR_LINE]
    assert ours == [GR_LINE[g[0]] for g in sorted(GROUPS, key=lambda g: g[1])]


@pytest.mark.parametrize("db", ["pw", "gr"])
def test_enumerate_from_many_threads(ns, daemon, db):
    names = out(ns.probe("enum-threads", "6", db)).splitlines()
    expected = [u[0] for u in USERS] if db == "pw" else [g[0] for g in GROUPS]
    for name in expected:
        assert names.count(name) == 1, name


def test_enumerate_without_setent(ns, daemon):
    # getpwent() without setpwent(): python's pwd.getpwall uses setpwent, so
    # call getent's enumeration twice in one namespace run instead: the
    # second run must start again from the beginning.
    p = ns.script("getent passwd | grep -c '^user' ; getent passwd | grep -c '^user'")
    assert p.stdout.split() == ["30", "30"]


# --- threads and fork ----------------------------------------------------------------

def test_many_threads(ns, daemon):
    p = ns.probe("threads", "16", "100", "alice", "big", timeout=180)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "mismatches 0" in p.stdout


def test_fork_children_use_their_own_connection(ns, daemon):
    # Under AddressSanitizer (GCC 12's libasan) a child forked while other
    # threads allocate can deadlock inside the sanitizer's allocator before
    # it reaches the module, so the sanitized run forks from a single thread.
    p = ns.probe("fork", "alice", "devs", "40", "0" if SANITIZE else "3", timeout=180)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "parent mismatches 0, bad children 0" in p.stdout


# --- the daemon down, silent or confused ------------------------------------------

def test_daemon_absent(daemon):
    d = tempfile.mkdtemp(prefix="dj-none-")
    r = NssRunner(BUILD, os.path.join(d, "socket"), sanitize=SANITIZE)
    p = r.getent("passwd", "alice")
    assert p.returncode == 2 and p.elapsed < 1.5
    assert p.stderr == ""   # the module never writes to the host's output
    assert out(r.getent("passwd", "root")).startswith("root:x:0:0:")
    assert out(r.getent("group", "root")).startswith("root:x:0:")
    assert out(r.run(["id", "root"])).startswith("uid=0(root)")
    p = r.run(["id", "alice"])
    assert p.returncode == 1 and p.elapsed < 1.5
    assert r.getent("passwd").returncode == 0   # files still enumerate
    shutil.rmtree(d)


def test_daemon_silent_is_bounded(ns, daemon):
    daemon.mode = "silent"
    p = ns.getent("passwd", "alice")
    assert p.returncode == 2
    assert 1.5 <= p.elapsed < 3.0, p.elapsed
    p = ns.getent("passwd", "root")
    assert p.returncode == 0 and p.elapsed < 1.0
    # A program that looks up several things does not wait two seconds for
    # each: after one timeout the module fails fast for a moment.
    p = ns.run(["id", "alice"])
    assert p.returncode == 1 and p.elapsed < 3.0, p.elapsed
    p = ns.script("getent passwd alice; getent group devs; getent initgroups alice; true")
    assert p.elapsed < 7.0


@pytest.mark.parametrize("mode", ["garbage", "huge", "close"])
def test_confused_daemon_is_unavailable(ns, daemon, mode):
    daemon.mode = mode
    p = ns.getent("passwd", "alice")
    assert p.returncode == 2 and p.elapsed < 1.5, (p.returncode, p.elapsed, p.stderr)
    assert p.stdout == "" and p.stderr == ""
    p = ns.getent("group", "devs")
    assert p.returncode == 2 and p.elapsed < 1.5
    assert direct(ns, "pw", "alice", "1000") == ("status=UNAVAIL errno=ENOENT", "")
    assert direct(ns, "initgroups", "alice", "1", "0")[0] == "status=UNAVAIL errno=ENOENT"


# --- whom the module trusts ------------------------------------------------------------

def test_socket_owned_by_another_user_is_refused(daemon):
    d = tempfile.mkdtemp(prefix="dj-own-")
    os.chmod(d, 0o755)
    path = os.path.join(d, "socket")
    os.symlink(daemon.path, path)   # stat() follows: the daemon's own socket
    r = NssRunner(BUILD, path, sanitize=SANITIZE)
    assert out(r.getent("passwd", "alice")) == PW_LINE["alice"]
    os.unlink(path)
    # A socket bound by some other user in a directory that user does not own.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(4)
    os.chown(path, 65534, 65534)
    try:
        assert r.getent("passwd", "alice").returncode == 2
    finally:
        s.close()
        shutil.rmtree(d)


@pytest.mark.skipif(SANITIZE, reason="setuid programs ignore LD_PRELOAD, which the sanitized module needs")
def test_setuid_programs_ignore_the_socket_variable(ns, daemon, tmp_path):
    # The module must come from the system library directory here (setuid
    # programs ignore LD_LIBRARY_PATH): an overlay inside the namespace.
    work = tempfile.mkdtemp(prefix="dj-suid-")
    os.chmod(work, 0o755)
    upper, wd = os.path.join(work, "upper"), os.path.join(work, "work")
    os.mkdir(upper)
    os.mkdir(wd)
    shutil.copy2(BUILD / "libnss_django.so.2", upper)
    plain = os.path.join(work, "probe")
    suid = os.path.join(work, "probe-suid")
    shutil.copy2(BUILD / "tests" / "nss_probe", plain)
    shutil.copy2(BUILD / "tests" / "nss_probe", suid)
    os.chmod(plain, 0o755)
    os.chmod(suid, 0o4755)
    as_nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups"
    overlay = ("mount -t overlay overlay -o lowerdir=%s,upperdir=%s,workdir=%s %s && "
               % (LIBDIR, upper, wd, LIBDIR))
    results = {}
    for what in ("true", plain + " pw alice", suid + " pw alice"):
        daemon.reset_counts()
        p = ns.script(overlay + as_nobody + " " + what, env_extra={"LD_LIBRARY_PATH": ""})
        results[what] = (p.stdout.strip(), daemon.count("PwByName"))
    shutil.rmtree(work, ignore_errors=True)
    baseline = results["true"][1]   # setpriv's own lookups
    assert results[plain + " pw alice"] == (PW_LINE["alice"], baseline + 1), results
    # The setuid copy used the default socket, which does not exist here:
    # the module is unavailable (glibc reports ENOENT), and the stand-in
    # daemon named by DJANGO_AUTH_SOCKET was never asked.
    assert results[suid + " pw alice"][0] in ("notfound", "error 2"), results
    assert results[suid + " pw alice"][1] == baseline, results
