"""A hung daemon (common/shared_cache.h, the heartbeat): django-authd stopped
with SIGSTOP keeps its socket and its lock on the shared file but stamps no
heartbeat. Once the heartbeat is older than the bound, every new process
(getent, id, the PAM harness) fails at once for Django names, as with no
daemon, while `files` answers local names; after SIGCONT the daemon answers
again. A killed daemon still fails at once (its socket refuses)."""
import signal
import threading
import time


from conftest import BUILD, SANITIZE
from nss_harness import NssRunner
from pam_util import ServiceDir, harness1
from test_nss_daemon import expected_groups, expected_passwd, lines, own_daemon  # noqa: F401 (a fixture)

# kHeartbeatStaleNs.
STALE = 2.0
# "At once": well under the client's 2 s timeout, which a waiting client
# would spend (and more, per process and per lookup).
PROMPT = 1.0


def hang(daemon):
    """SIGSTOP, then past the bound (plus the last interval's stamp)."""
    daemon.proc.send_signal(signal.SIGSTOP)
    time.sleep(STALE + 0.8)


def until(check, seconds=3.0):
    """check() again until it holds: the loop stamps within its interval of
    SIGCONT."""
    end = time.monotonic() + seconds
    while True:
        ok = check()
        if ok or time.monotonic() >= end:
            return ok
        time.sleep(0.1)


def test_nss_hung_daemon_fails_at_once(own_daemon):
    r = NssRunner(BUILD, own_daemon.socket, sanitize=SANITIZE)   # files django
    pop = own_daemon.db
    names = sorted(expected_passwd(pop))
    warm, cold = names[0], names[1:6]
    group = next(g for g in sorted(expected_groups(pop)) if g != "root")
    # One answer published to the shared file before the hang.
    assert lines(r.getent("passwd", warm)) == [expected_passwd(pop)[warm]]
    hang(own_daemon)
    try:
        # Every lookup a new process: none waits.
        for user in cold:
            p = r.getent("passwd", user)
            assert p.returncode == 2 and p.elapsed < PROMPT, (user, p.returncode, p.elapsed)
            p = r.run(["id", user])
            assert p.returncode == 1 and p.elapsed < PROMPT, (user, p.returncode, p.elapsed)
        p = r.getent("group", group)
        assert p.returncode == 2 and p.elapsed < PROMPT, p.elapsed
        # Local users and groups: files answers, initgroups included (it
        # asks the daemon for a local user's Django groups too).
        for _ in range(3):
            p = r.run(["id", "root"])
            assert p.returncode == 0 and p.stdout.startswith("uid=0(root) gid=0(root)"), p.stdout
            assert p.elapsed < PROMPT, p.elapsed
            p = r.getent("initgroups", "root")
            assert p.returncode == 0 and p.stdout.split()[0] == "root" and p.elapsed < PROMPT, p.elapsed
            p = r.getent("group", "root")
            assert p.returncode == 0 and p.stdout.startswith("root:x:0:") and p.elapsed < PROMPT
        # What the shared file holds still answers until it expires.
        p = r.getent("passwd", warm)
        assert lines(p) == [expected_passwd(pop)[warm]] and p.elapsed < PROMPT
    finally:
        own_daemon.proc.send_signal(signal.SIGCONT)
    # Answers come back from the daemon, in new processes as in this one.
    user = cold[0]
    assert until(lambda: r.getent("passwd", user).stdout.splitlines() == [expected_passwd(pop)[user]])
    p = r.getent("group", group)
    assert lines(p) == [expected_groups(pop)[group]]


def test_nss_hang_shorter_than_bound_waits(own_daemon):
    """Within the bound the heartbeat is fresh: the client waits for the
    daemon as before, and gets its answer once it goes on."""
    r = NssRunner(BUILD, own_daemon.socket, sanitize=SANITIZE)
    user = sorted(expected_passwd(own_daemon.db))[2]
    own_daemon.proc.send_signal(signal.SIGSTOP)
    resume = threading.Timer(1.0, lambda: own_daemon.proc.send_signal(signal.SIGCONT))
    resume.start()
    try:
        p = r.getent("passwd", user)
    finally:
        resume.join()
    assert lines(p) == [expected_passwd(own_daemon.db)[user]] and p.elapsed > 0.5


def test_nss_killed_daemon_fails_at_once(own_daemon):
    r = NssRunner(BUILD, own_daemon.socket, sanitize=SANITIZE)
    names = sorted(expected_passwd(own_daemon.db))
    own_daemon.proc.kill()
    own_daemon.proc.wait()
    time.sleep(STALE + 0.5)   # its heartbeat is old too, its lock gone
    for user in names[3:6]:
        p = r.getent("passwd", user)
        assert p.returncode == 2 and p.elapsed < PROMPT, (user, p.elapsed)
    p = r.run(["id", "root"])
    assert p.returncode == 0 and p.elapsed < PROMPT
    own_daemon.stop()
    own_daemon.start()
    assert lines(r.getent("passwd", names[3])) == [expected_passwd(own_daemon.db)[names[3]]]


def test_pam_hung_daemon_is_authinfo_unavail_at_once(own_daemon, sqlite_population, tmp_path):
    svc = ServiceDir(tmp_path / "pam.d")
    s = svc.simple("web", own_daemon.socket)
    u = next(u for u in sqlite_population.spec["users"]
             if u["username"][:1] not in ("", "+", "-") and sqlite_population.expected["users"][u["username"]]["right"])
    assert harness1(svc.path, s, u["username"], u["password"])["auth"] == "PAM_SUCCESS"
    hang(own_daemon)
    try:
        for _ in range(3):
            t0 = time.monotonic()
            r = harness1(svc.path, s, u["username"], u["password"])
            elapsed = time.monotonic() - t0
            assert (r["auth"], r["acct"]) == ("PAM_AUTHINFO_UNAVAIL", "PAM_AUTHINFO_UNAVAIL")
            assert elapsed < PROMPT, elapsed
    finally:
        own_daemon.proc.send_signal(signal.SIGCONT)
    assert until(lambda: harness1(svc.path, s, u["username"], u["password"])["auth"] == "PAM_SUCCESS")
