"""A database that hangs (daemon/guarded_db.h, the circuit breaker): the
daemon's event loops run but PostgreSQL stops answering, here a TCP relay
between the daemon and the real cluster that goes on accepting connections
and stops passing bytes (a hung server, a network that drops packets). After
the first call that times out, lookups of Django names from new processes
fail at once instead of each waiting for the client's timeout; local names
and cached answers still answer; once the database answers again the daemon
does too within a few seconds, and Stats shows the breaker closed. Outage
after outage, it never stays open while the database is fine."""
import socket
import subprocess
import threading
import time

import pytest

import djproto
from conftest import BUILD, SANITIZE
from fixtures_daemon import Daemon
from nss_harness import NssRunner
from test_nss_daemon import expected_passwd, lines

# "At once": well under the client's 2 s timeout (a behaviour check, not a
# speed target: a waiting client spends at least the 2 s).
PROMPT = 1.0
# The daemon's database timeouts here (libpq's connect_timeout is at least 2).
CONNECT_TIMEOUT = 2
QUERY_TIMEOUT = 2


class HangingRelay:
    """127.0.0.1:port -> the cluster. hang(): connections are still accepted,
    and no byte goes either way (until resume())."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.flowing = threading.Event()
        self.flowing.set()
        self.stopping = False
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    def hang(self):
        self.flowing.clear()

    def resume(self):
        self.flowing.set()

    def close(self):
        self.stopping = True
        self.flowing.set()
        for s in [self.listener] + self.socks:
            try:
                s.close()
            except OSError:
                pass

    def _accept(self):
        while not self.stopping:
            try:
                a, _ = self.listener.accept()
            except OSError:
                return
            self.socks.append(a)
            threading.Thread(target=self._serve, args=(a,), daemon=True).start()

    def _serve(self, a):
        # A connection accepted while hung waits for the server until resumed
        # (the daemon has given up on it by then).
        self.flowing.wait()
        try:
            b = socket.create_connection(self.target)
        except OSError:
            a.close()
            return
        self.socks.append(b)
        threading.Thread(target=self._pump, args=(b, a), daemon=True).start()
        self._pump(a, b)

    def _pump(self, src, dst):
        try:
            while not self.stopping:
                src.settimeout(0.1)
                try:
                    data = src.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    break
                self.flowing.wait()   # held while hung
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture
def relayed(pg_population, pg_cluster, tmp_path):
    relay = HangingRelay(pg_cluster.port)
    db = dict(pg_population.db_section, host="127.0.0.1", port=str(relay.port),
              connect_timeout=CONNECT_TIMEOUT, query_timeout=QUERY_TIMEOUT)
    d = Daemon(BUILD, tmp_path / "authd", db, pg_population)
    d.start()
    yield d, relay
    relay.resume()
    d.cleanup()
    relay.close()


def stats(d):
    with d.client() as c:
        return c.stats()


def until(check, seconds):
    end = time.monotonic() + seconds
    while True:
        ok = check()
        if ok or time.monotonic() >= end:
            return ok
        time.sleep(0.2)


def lookup(d, name, timeout):
    with d.client(timeout=timeout) as c:
        return c.pw_by_name(name)


def first_timeout(d, name):
    """The call that finds the database hung: Unavailable after the daemon's
    own timeout (a client that waits that long)."""
    t0 = time.monotonic()
    assert lookup(d, name, timeout=CONNECT_TIMEOUT + QUERY_TIMEOUT + 10) == "Unavailable"
    return time.monotonic() - t0


def test_hung_database_answers_unavailable_at_once(relayed):
    d, relay = relayed
    pop = d.db
    names = sorted(expected_passwd(pop))
    warm, probe, cold = names[0], names[1], names[2:8]
    r = NssRunner(BUILD, d.socket, sanitize=SANITIZE)
    assert lines(r.getent("passwd", warm)) == [expected_passwd(pop)[warm]]
    s = stats(d)
    assert s["database_available"] == "yes" and s["database_unavailable_since"] == "0"

    relay.hang()
    try:
        # A waited for timeout first (the daemon's, not less).
        assert first_timeout(d, probe) >= QUERY_TIMEOUT - 0.5
        s = stats(d)
        assert s["database_available"] == "no", s
        assert abs(int(s["database_unavailable_since"]) - time.time()) < 60
        # Every further lookup a new process: none waits.
        for user in cold:
            p = r.getent("passwd", user)
            assert p.returncode == 2 and p.elapsed < PROMPT, (user, p.returncode, p.elapsed)
            p = r.run(["id", user])
            assert p.returncode == 1 and p.elapsed < PROMPT, (user, p.returncode, p.elapsed)
            t0 = time.monotonic()
            assert lookup(d, user, timeout=2) == "Unavailable"
            assert time.monotonic() - t0 < PROMPT
        # Logins too: Unavailable, not a wait.
        with d.client(timeout=2) as c:
            t0 = time.monotonic()
            assert c.authenticate(cold[0], pop.password(cold[0])) == "Unavailable"
            assert time.monotonic() - t0 < PROMPT
        # Local names: files answers, and initgroups' question to the daemon
        # about root's Django groups does not wait either.
        for _ in range(3):
            p = r.run(["id", "root"])
            assert p.returncode == 0 and p.stdout.startswith("uid=0(root) gid=0(root)"), p.stdout
            assert p.elapsed < PROMPT, p.elapsed
        # Names the host's files hold are NotFound without a query, as always.
        with d.client(timeout=2) as c:
            t0 = time.monotonic()
            assert c.pw_by_name("root") == "NotFound"
            assert c.groups_of_user("root") == "NotFound"
            assert c.gr_by_name("root") == "NotFound"
            assert time.monotonic() - t0 < PROMPT
        # The cached answer still answers, from the daemon as from the shared file.
        assert lines(r.getent("passwd", warm)) == [expected_passwd(pop)[warm]]
        assert lookup(d, warm, timeout=2)["name"] == warm
        # django-authctl status tells it.
        st = subprocess.run([str(BUILD / "django-authctl"), "status", "--socket", str(d.socket)],
                            capture_output=True, text=True, timeout=30)
        assert st.returncode == 0
        assert "database: unavailable since " in st.stdout, st.stdout
        s = stats(d)
        assert s["database_available"] == "no" and int(s["database_refused"]) >= 2 * len(cold)
        assert s["database_outages"] == "1"
    finally:
        relay.resume()
    # Back: answers within a few seconds (the probe's backoff and its own wait).
    assert until(lambda: lookup(d, cold[0], timeout=2) != "Unavailable", 15)
    assert lookup(d, cold[1], timeout=2)["name"] == cold[1]
    assert lines(r.getent("passwd", cold[2])) == [expected_passwd(pop)[cold[2]]]
    s = stats(d)
    assert s["database_available"] == "yes" and s["database_unavailable_since"] == "0", s
    st = subprocess.run([str(BUILD / "django-authctl"), "status", "--socket", str(d.socket)],
                        capture_output=True, text=True, timeout=30)
    assert "database: available" in st.stdout, st.stdout
    # Logged once each way.
    log = d.log_text()
    assert log.count("requests that need it are answered Unavailable at once") == 1, log[-3000:]
    assert log.count("answers again after") == 1, log[-3000:]


def test_breaker_closes_with_no_requests(relayed):
    """The probe notices the database back without a request paying for it."""
    d, relay = relayed
    names = sorted(expected_passwd(d.db))
    relay.hang()
    try:
        first_timeout(d, names[10])
        assert stats(d)["database_available"] == "no"
    finally:
        relay.resume()
    assert until(lambda: stats(d)["database_available"] == "yes", 15)
    assert lookup(d, names[11], timeout=2)["name"] == names[11]


def test_outages_never_leave_it_open(relayed):
    """Outage after outage (failed probes among them), the breaker closes each
    time the database answers, and the answers are right."""
    d, relay = relayed
    pop = d.db
    names = sorted(expected_passwd(pop))[20:]
    for i in range(3):
        relay.hang()
        try:
            first_timeout(d, names[3 * i])
            # Long enough for probes to fail and back off.
            time.sleep(1.5 * (i + 1))
            assert lookup(d, names[3 * i + 1], timeout=2) == "Unavailable"
        finally:
            relay.resume()
        assert until(lambda: stats(d)["database_available"] == "yes", 15), i
        got = lookup(d, names[3 * i + 2], timeout=2)
        assert got != "Unavailable" and got["name"] == names[3 * i + 2]
    s = stats(d)
    assert s["database_outages"] == "3" and s["database_available"] == "yes", s
    # And with the database fine, it stays closed under lookups.
    for name in names[10:30]:
        assert lookup(d, name, timeout=2)["name"] == name
    assert stats(d)["database_available"] == "yes"
