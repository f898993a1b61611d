"""django-authd under concurrent load: many clients at once, each mixing
lookups, enumeration and password checks, while another keeps flushing the
cache. Every answer must be Django's. `make check-tsan` runs this file (with
the NSS thread and fork tests) against a ThreadSanitizer build, where any
data race makes the daemon exit non-zero and the test fail."""
import os
import random
import threading
import time

import pytest

from conftest import BUILD
import djproto
from djproto import Client
from fixtures_daemon import GID_BASE, UID_BASE, Daemon


TSAN = os.environ.get("DJ_SANITIZE") == "thread"


@pytest.fixture
def busy_daemon(sqlite_population, tmp_path):
    d = Daemon(BUILD, tmp_path / "authd", sqlite_population.db_section, sqlite_population,
               daemon={"event_threads": 3, "lookup_threads": 4, "auth_threads": 3},
               cache={"positive_ttl": 60, "negative_ttl": 10, "max_entries": 50})
    with d:
        yield d


def test_concurrent_lookups_auths_and_flushes(busy_daemon):
    pop = busy_daemon.db
    exp_users = pop.expected["users"]
    users = [u for u in pop.spec["users"]
             if u["username"].startswith("user") and exp_users[u["username"]]["id"]
             and u["hasher"] in ("pbkdf2_sha256", "pbkdf2_sha1", "unusable")]
    groups = {name: g for name, g in pop.expected["groups"].items()
              if name.replace("-", "_").isidentifier() and not name.startswith("-")}
    rounds = 15 if TSAN else 60
    errors = []
    stop = threading.Event()

    def worker(seed):
        rnd = random.Random(seed)
        try:
            with busy_daemon.client(timeout=60) as c:
                for _ in range(rounds):
                    u = rnd.choice(users)
                    name, exp = u["username"], exp_users[u["username"]]
                    got = c.pw_by_name(name)
                    if got == "NotFound" or got["uid"] != UID_BASE + exp["id"]:
                        errors.append(("pw", name, got))
                    if c.pw_by_uid(UID_BASE + exp["id"]) != got:
                        errors.append(("uid", name))
                    gname = rnd.choice(sorted(groups))
                    g = c.gr_by_name(gname)
                    if g == "NotFound" or g["gid"] != GID_BASE + groups[gname]["id"]:
                        errors.append(("gr", gname, g))
                    st = c.authenticate(name, u["password"])
                    want = {True: "Ok", False: "WrongPassword", None: "NoUser"}[exp["right"]]
                    if st != want:
                        errors.append(("auth", name, st, want))
                    st = c.authenticate(name, u["password"] + "x")
                    if st == "Ok":
                        errors.append(("auth-wrong-accepted", name))
                    if rnd.random() < 0.1:
                        if not isinstance(c.pw_list(page=50), list):
                            errors.append(("list",))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(("exception", seed, repr(e)))

    def flusher():
        with busy_daemon.client() as c:
            while not stop.is_set():
                if c.flush() != "Ok":
                    errors.append(("flush",))
                c.stats()
                time.sleep(0.005)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    f = threading.Thread(target=flusher)
    f.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    stop.set()
    f.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors[:10]
    assert busy_daemon.alive(), busy_daemon.log_text()


def test_connections_opened_and_dropped_mid_request(busy_daemon):
    """Clients that vanish mid-frame or before reading their answer, from
    many threads, while others get right answers; afterwards the daemon
    holds no more descriptors than before."""
    import socket
    errors = []
    uid = UID_BASE + busy_daemon.db.expected["users"]["user001"]["id"]
    with busy_daemon.client() as c:
        assert c.pw_by_name("user001")["uid"] == uid
    time.sleep(0.5)   # the connection above closed, the database's files open
    baseline = busy_daemon.open_fds()

    def rude(i):
        for k in range(20 if TSAN else 60):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(str(busy_daemon.socket))
                frame = djproto.frame("PwByName", djproto._str("user001"))
                s.sendall(frame[: (k % len(frame)) + 1])
            except OSError:
                pass
            finally:
                s.close()

    def polite(i):
        try:
            with busy_daemon.client() as c:
                for _ in range(30):
                    r = c.pw_by_name("user001")
                    if not isinstance(r, dict) or (r["name"], r["uid"]) != ("user001", uid):
                        errors.append(r)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    ts = [threading.Thread(target=rude, args=(i,)) for i in range(4)]
    ts += [threading.Thread(target=polite, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=300)
    assert not errors, errors[:5]
    assert busy_daemon.alive()
    assert busy_daemon.settle_fds(baseline) == baseline


def test_hash_threads_yield_the_cpu_to_lookups(busy_daemon):
    """The authentication pool runs below the rest of the daemon (nice 5, see
    daemon/workers.cc), so that a lookup woken beside a hash gets a core at
    once: exactly auth_threads threads at nice 5, every other at the
    daemon's own nice value."""
    pid = busy_daemon.proc.pid
    own = int(open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[16])
    nice = []
    for tid in os.listdir("/proc/%d/task" % pid):
        fields = open("/proc/%d/task/%s/stat" % (pid, tid)).read().rsplit(")", 1)[1].split()
        nice.append(int(fields[16]))   # field 19 of stat(5); fields[0] is field 3
    assert nice.count(min(own + 5, 19)) == 3, nice
    assert nice.count(own) == len(nice) - 3, nice


def loop_fds(pid):
    """The fds each of the daemon's event loops watches, by its epoll fd
    (from /proc): the listening socket, its eventfd (and the signalfd),
    and the client connections it owns."""
    watched = {}
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) != "anon_inode:[eventpoll]":
                continue
            info = open("/proc/%d/fdinfo/%s" % (pid, fd)).read()
        except OSError:
            continue
        watched[fd] = sum(1 for line in info.splitlines() if line.startswith("tfd:"))
    return watched


def test_connection_limit_holds_across_event_loops(sqlite_population, tmp_path):
    """max_connections counts the connections of every event loop, and at the
    limit the connection idle the longest makes room, whichever loop owns it."""
    with Daemon(BUILD, tmp_path / "d", sqlite_population.db_section, sqlite_population,
                daemon={"event_threads": 3, "max_connections": 12, "idle_timeout": 300}) as d:
        pid = d.proc.pid
        # Without clients: each loop watches the listening socket and its
        # eventfd, the first also the signalfd (a start-up probe may still
        # be closing).
        deadline = time.time() + 5
        while sum((base := loop_fds(pid)).values()) != 3 * 2 + 1 and time.time() < deadline:
            time.sleep(0.05)
        assert len(base) == 3 and sum(base.values()) == 7, base

        def held():   # client connections per loop
            return {fd: n - base[fd] for fd, n in loop_fds(pid).items()}

        # Connections made at once spread over the loops (a loop busy
        # accepting leaves the next one to another): a few tries at most.
        for _ in range(20):
            barrier = threading.Barrier(12)
            old = [None] * 12

            def connect(i):
                barrier.wait()
                old[i] = Client(d.socket, timeout=5)

            ts = [threading.Thread(target=connect, args=(i,)) for i in range(12)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            for c in old:
                assert c.hello()[0] == "Ok"
            if sum(1 for n in held().values() if n > 0) >= 2:
                break
            for c in old:
                c.close()
            time.sleep(0.2)
        else:
            pytest.fail("connections never spread over two event loops: %s" % held())
        # Idle from now on, in this order.
        for c in old:
            assert c.hello()[0] == "Ok"
            time.sleep(0.03)
        new = []
        for _ in range(3):
            c = Client(d.socket, timeout=5)
            assert c.hello()[0] == "Ok"
            new.append(c)
            time.sleep(0.03)
        for c in old[:3]:    # the three idle the longest, in whichever loop
            assert c.sock.recv(1) == b""
        for c in old[3:] + new:
            assert c.hello()[0] == "Ok"
        assert sum(held().values()) == 12, held()
        for c in old + new:
            c.close()
        assert "closing the longest idle ones" in d.log_text()
