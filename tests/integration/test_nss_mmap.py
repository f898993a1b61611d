"""The shared lookup cache (<socket dir>/cache, common/shared_cache.h) end to
end: real glibc NSS programs answered from the daemon's mapped file give the
same answers as over the socket and without asking the daemon; a flush or a
change made visible by a flush, a daemon restart, a stopped daemon and a
corrupted file all end in the right answer (or no answer from a stopped
daemon), never in a stale one or a crash."""
import os
import random
import shutil
import subprocess

import pytest

from conftest import BUILD, SANITIZE
from fixtures_daemon import Daemon
from nss_harness import NssRunner
from test_nss_daemon import expected_groups, expected_passwd


@pytest.fixture(scope="module")
def own(sqlite_population, tmp_path_factory):
    """A daemon of our own over a private copy of the SQLite population (the
    tests change the database)."""
    d = tmp_path_factory.mktemp("mmap")
    db = d / "db.sqlite3"
    shutil.copyfile(sqlite_population.db_section["name"], db)
    # Changes are seen through a flush here, not by the daemon's own watch
    # of the file (test_push_invalidation.py).
    daemon = Daemon(BUILD, d / "daemon", dict(engine="sqlite3", name=str(db)), sqlite_population,
                    cache={"invalidate": False})
    daemon.env = dict(sqlite_population.env, DJ_DB_NAME=str(db))
    daemon.start()
    yield daemon
    daemon.cleanup()


@pytest.fixture(scope="module")
def ns(own):
    return NssRunner(BUILD, own.socket, sanitize=SANITIZE, nsswitch="passwd: django\ngroup: django\n")


def requests(daemon):
    with daemon.client(timeout=5) as c:
        return int(c.stats()["requests"])


def cache_file(daemon):
    return daemon.socket.parent / "cache"


def getent(ns, db, keys, mmap=True):
    extra = {} if mmap else {"DJANGO_AUTH_NSS_MMAP": "0"}
    p = ns.getent(db, *keys, env_extra=extra)
    return p.returncode, sorted(p.stdout.splitlines())


def test_file_is_published(own):
    st = os.stat(cache_file(own))
    assert st.st_uid == 0 and st.st_mode & 0o777 == 0o644


def test_answers_match_socket_without_asking(own, ns):
    users = sorted(expected_passwd(own.db))[:80]
    groups = sorted(expected_groups(own.db))[:40]
    rc, by_socket = getent(ns, "passwd", users, mmap=False)
    assert rc == 0 and by_socket == sorted(expected_passwd(own.db)[u] for u in users)
    rcg, groups_socket = getent(ns, "group", groups, mmap=False)
    assert rcg == 0
    before = requests(own)
    rc2, by_mmap = getent(ns, "passwd", users)
    rcg2, groups_mmap = getent(ns, "group", groups)
    after = requests(own)
    assert (rc2, by_mmap) == (rc, by_socket)
    assert (rcg2, groups_mmap) == (rcg, groups_socket)
    # One Stats request of our own; groups too big for a slot may still ask.
    big = sum(1 for g in groups if len(expected_groups(own.db)[g]) > 400)
    assert after - before <= 1 + big


def test_initgroups_matches(own, ns):
    user = next(u for u, e in own.db.expected["users"].items()
                if e.get("id") and e["groups"] and u in expected_passwd(own.db))
    a = ns.run(["id", "-G", user], env_extra={"DJANGO_AUTH_NSS_MMAP": "0"})
    b = ns.run(["id", "-G", user])
    assert a.returncode == 0 and a.stdout == b.stdout


def add_member(own, group_name, user):
    code = ("import django; django.setup()\n"
            "from django.contrib.auth.models import Group, User\n"
            "User.objects.get(username=%r).groups.add(Group.objects.get(name=%r))\n" % (user, group_name))
    subprocess.run(["/usr/bin/python3", "-c", code], env=own.env, check=True, capture_output=True)


def test_flush_invalidates(own, ns):
    groups = expected_groups(own.db)
    name = next(g for g, line in sorted(groups.items()) if len(line) < 300)
    user = next(u for u, e in sorted(own.db.expected["users"].items())
                if e.get("id") and e.get("is_active", True) and u in expected_passwd(own.db)
                and name not in e["groups"])
    rc, first = getent(ns, "group", [name])
    assert rc == 0
    getent(ns, "group", [name])  # answered from the file now
    add_member(own, name, user)
    # Still cached (positive_ttl 60 s): the same answer, from the file.
    assert getent(ns, "group", [name]) == (rc, first)
    with own.client() as c:
        c.flush()
    rc2, second = getent(ns, "group", [name])
    assert rc2 == 0 and second != first
    assert user in second[0].split(":")[3].split(",")


def test_restart_and_stop(own, ns):
    users = sorted(expected_passwd(own.db))[:20]
    want = sorted(expected_passwd(own.db)[u] for u in users)
    getent(ns, "passwd", users)
    created = cache_file(own).read_bytes()[48:56]   # Header.created_ns
    own.restart()
    assert cache_file(own).read_bytes()[48:56] != created
    assert getent(ns, "passwd", users) == (0, want)
    assert getent(ns, "passwd", users) == (0, want)
    own.stop()
    # Stopped: the file is gone (retired first), nothing answers.
    assert not cache_file(own).exists()
    rc, out = getent(ns, "passwd", users[:3])
    assert rc != 0 and out == []
    own.start()
    assert getent(ns, "passwd", users) == (0, want)


def test_corrupted_file_falls_back(own, ns):
    users = sorted(expected_passwd(own.db))[:30]
    want = sorted(expected_passwd(own.db)[u] for u in users)
    assert getent(ns, "passwd", users) == (0, want)
    path = cache_file(own)
    size = os.path.getsize(path)
    rng = random.Random(5)
    with open(path, "r+b") as f:
        for _ in range(20):
            # Damage slots in place (the header stays valid), then look up.
            for _ in range(200):
                f.seek(rng.randrange(64, size))
                f.write(bytes([rng.randrange(256)]))
            f.flush()
            assert getent(ns, "passwd", users) == (0, want)
        # The header too.
        f.seek(0)
        f.write(os.urandom(64))
        f.flush()
    assert getent(ns, "passwd", users) == (0, want)
    assert own.alive()
    own.restart()
    assert getent(ns, "passwd", users) == (0, want)


def test_geometry_follows_the_config(sqlite_population, tmp_path):
    """[cache] shared_slots and shared_slot_size size the file, which then
    answers; shared_slots = 0: no file, and lookups still answer over the
    socket."""
    groups = expected_groups(sqlite_population)
    big = max(sorted(groups), key=lambda g: len(groups[g]))
    for slots, size in ((1024, 4096), (0, 512)):
        daemon = Daemon(BUILD, tmp_path / ("d%d" % slots), sqlite_population.db_section, sqlite_population,
                        cache={"invalidate": False, "shared_slots": slots, "shared_slot_size": size})
        daemon.start()
        try:
            ns = NssRunner(BUILD, daemon.socket, sanitize=SANITIZE, nsswitch="group: django\n")
            rc, first = getent(ns, "group", [big])
            assert rc == 0 and first == [groups[big]]
            if slots == 0:
                assert not cache_file(daemon).exists()
                continue
            assert os.stat(cache_file(daemon)).st_size == 64 + slots * size
            before = requests(daemon)
            assert getent(ns, "group", [big]) == (rc, first)
            assert requests(daemon) == before + 1     # our own Stats only: the group came from the file
        finally:
            daemon.stop()
            daemon.cleanup()
