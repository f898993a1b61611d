"""engine = mysql when the server goes away (stopped and started again:
test_daemon_faults.py): restarted under a pool of idle connections, a
server that never answers the connection (connect_timeout), killed (SIGKILL)
while the daemon's statement waits on a lock, and a statement past
query_timeout. Each
time: Unavailable within its bound, the daemon alive, the next request on a
new connection with the right answer, the statement ended on the server."""
import socket
import threading
import time

import MySQLdb

from conftest import BUILD
from fixtures_daemon import Daemon

AUTH = {"Ok": True, "WrongPassword": False, "NoUser": None}


def good_user(pop, n=0):
    return [u for u in pop.spec["users"] if u["username"].startswith("user") and u["hasher"] == "pbkdf2_sha256"
            and pop.expected["users"][u["username"]]["right"]][n]


def uncached_daemon(pop, workdir, **database):
    """A daemon that asks the database every time (no cache)."""
    return Daemon(BUILD, workdir / "d", dict(pop.db_section, **database), pop,
                  cache={"positive_ttl": 0, "negative_ttl": 0})


def lock_user_table(mariadb):
    """A session (root's) holding auth_user locked until it is closed."""
    c = MySQLdb.connect(unix_socket=str(mariadb.sock), user="root", database="site", charset="utf8mb4")
    c.cursor().execute("LOCK TABLES auth_user WRITE")
    return c


def daemon_statements(mariadb):
    """The daemon's statements the server is running now."""
    out = mariadb.sql("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'django' "
                      "AND COMMAND = 'Execute'")
    return int(out.strip())


def wait_for_lock_waiter(mariadb, timeout=4):
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = mariadb.sql("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'django' "
                          "AND STATE LIKE '%metadata lock%'")
        if int(out.strip()):
            return True
        time.sleep(0.05)
    return False


def test_mysql_restart_reuses_nothing_stale(mysql_population, mariadb, tmp_path):
    """Pooled connections cut by a restart are replaced on the next request:
    no request sees the stale ones."""
    pop = mysql_population
    users = [good_user(pop, i) for i in range(3)]
    with uncached_daemon(pop, tmp_path) as d:
        with d.client() as c:
            for u in users:   # several idle connections in the pool
                assert c.authenticate(u["username"], u["password"]) == "Ok"
            mariadb.stop()
            mariadb.start()
            for u in users:
                assert c.authenticate(u["username"], u["password"]) == "Ok"
                assert c.authenticate(u["username"], "wrong") == "WrongPassword"
        assert "database unavailable" not in d.log_text()


def test_mysql_killed_mid_query(mysql_population, mariadb, tmp_path):
    """The server dies (SIGKILL) while the daemon's statement waits on a lock:
    that request is Unavailable at once, the daemon lives, and once the server
    is back the next request gets a new connection and the right answer."""
    pop = mysql_population
    u = good_user(pop)
    with uncached_daemon(pop, tmp_path, query_timeout=10) as d:
        with d.client(timeout=20) as c:
            locker = lock_user_table(mariadb)
            result = {}
            t = threading.Thread(target=lambda: result.update(st=c.authenticate(u["username"], u["password"]),
                                                              at=time.time()))
            t.start()
            try:
                assert wait_for_lock_waiter(mariadb), "the daemon's statement did not wait on the lock"
                killed_at = time.time()
                mariadb.kill()
                t.join(timeout=15)
            finally:
                try:
                    locker.close()
                except MySQLdb.Error:
                    pass
                if mariadb.proc is None:
                    mariadb.start()
            assert result["st"] == "Unavailable"
            assert result["at"] - killed_at < 2 + 1   # the retry's connect fails fast
            assert c.authenticate(u["username"], u["password"]) == "Ok"
            assert c.authenticate(u["username"], "wrong") == "WrongPassword"
        assert "database unavailable" in d.log_text()
        assert d.alive()


def test_mysql_statement_past_query_timeout(mysql_population, mariadb, tmp_path):
    """A statement held by a lock past query_timeout: Unavailable at the
    deadline (not retried), and its connection ended on the server, which no
    longer runs it."""
    pop = mysql_population
    u = good_user(pop)
    with uncached_daemon(pop, tmp_path, query_timeout=2) as d:
        with d.client(timeout=20) as c:
            locker = lock_user_table(mariadb)
            try:
                t0 = time.time()
                assert c.authenticate(u["username"], u["password"]) == "Unavailable"
                took = time.time() - t0
                assert 1.5 < took < 2 + 1.5, took
                deadline = time.time() + 3
                while daemon_statements(mariadb) and time.time() < deadline:
                    time.sleep(0.05)
                assert daemon_statements(mariadb) == 0   # killed on the server
            finally:
                locker.close()
            assert c.authenticate(u["username"], u["password"]) == "Ok"
        log = d.log_text()
        assert "statement timed out after 2 s" in log, log


def test_mysql_over_tcp_and_connect_timeout(mysql_population, mariadb, tmp_path):
    """TCP on loopback works as the socket does; a server that takes the TCP
    connection but never greets is given up after connect_timeout."""
    pop = mysql_population
    u = good_user(pop)
    with uncached_daemon(pop, tmp_path / "tcp", **mariadb.db_section("site", tcp=True)) as d, d.client() as c:
        assert c.authenticate(u["username"], u["password"]) == "Ok"
        assert c.pw_by_name("USER001")["name"] == "user001"
    with socket.socket() as silent:   # accepts (the kernel does), never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        section = dict(host="127.0.0.1", port=str(silent.getsockname()[1]), connect_timeout=1)
        with uncached_daemon(pop, tmp_path / "silent", **section) as d, d.client(timeout=20) as c:
            t = time.time()
            assert c.authenticate(u["username"], u["password"]) == "Unavailable"
            took = time.time() - t
            assert 0.8 < took < 1 + 1.5, took   # waited for the greeting, then gave up
            assert d.alive()
