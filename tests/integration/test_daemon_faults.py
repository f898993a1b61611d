"""django-authd when things go wrong: bad or unsafe configuration, database
down and back, callers that may not authenticate, hostile frames, many idle
connections, slow hashes next to lookups; and django-authctl's daemon
commands."""
import os
import pathlib
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest

import djproto
from conftest import BUILD, SANITIZE
from fixtures_daemon import Daemon, run_as_nobody, write_config

AUTHD = BUILD / "django-authd"
AUTHCTL = BUILD / "django-authctl"


def check_config(path):
    return subprocess.run([str(AUTHD), "--config", str(path), "--check-config"], capture_output=True,
                          text=True, timeout=30)


# --- configuration -------------------------------------------------------------------

def test_shipped_config_is_valid(top, tmp_path, sqlite_population):
    """The shipped file as it is, but for the database it points at: a real
    Django site's, so that --check-config runs every query the daemon makes."""
    text = (top / "config" / "django-auth.conf").read_text()
    assert "\nname = /srv/site/db.sqlite3\n" in text
    p = tmp_path / "shipped.conf"
    p.write_text(text.replace("\nname = /srv/site/db.sqlite3\n",
                              "\nname = %s\n" % sqlite_population.db_section["name"]))
    p.chmod(0o600)
    r = check_config(p)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "serves " in r.stdout and "who may log in: default = (nobody)" in r.stdout, r.stdout
    assert "warning: [access] lets nobody log in" in r.stdout


def test_check_config_tries_what_the_daemon_will_do(tmp_path, sqlite_population):
    """A configuration that parses but cannot work: one line each, exit 1."""
    db = sqlite_population.db_section["name"]
    cases = [
        ({"database": {"name": str(tmp_path / "none.sqlite3")}}, "none.sqlite3 does not exist"),
        ({"database": {"name": db}, "schema": {"user_is_staff": "is_boss"}}, "[schema]: the query for"),
        ({"database": {"name": db}, "daemon": {"user": "no-such-user-here"}}, "'no-such-user-here' is not in /etc/passwd"),
        ({"database": {"name": db}, "daemon": {"socket": str(tmp_path / "run" / "s")}}, "other users cannot reach"),
        ({"database": {"name": db}, "passwords": {"update_last_login": True},
          "schema": {"user_last_login": "last_seen"}}, "a write feature is on, but writing fails"),
        ({"database": {"engine": "postgresql", "name": "x", "host": "127.0.0.1", "port": "1", "connect_timeout": 1}},
         "cannot open or log in"),
    ]
    public = tempfile.mkdtemp(prefix="djcc-")
    os.chmod(public, 0o755)
    for sections, want in cases:
        sections.setdefault("daemon", {}).setdefault("socket", os.path.join(public, "s"))
        p = write_config(tmp_path / "c.conf", sections)
        r = check_config(p)
        assert r.returncode == 1 and want in r.stdout, (sections, r.stdout + r.stderr)
    # The daemon's user must be able to read an SQLite file, and to write it
    # and its directory when a write feature is on.
    site = pathlib.Path(public) / "site"
    site.mkdir()
    shutil.copy(db, site / "db.sqlite3")
    os.chmod(site, 0o755)
    os.chmod(site / "db.sqlite3", 0o600)
    sections = {"database": {"name": str(site / "db.sqlite3")}, "daemon": {"user": "nobody", "socket": os.path.join(public, "s")}}
    r = check_config(write_config(tmp_path / "u.conf", sections))
    assert r.returncode == 1 and "'nobody' cannot read" in r.stdout, r.stdout
    os.chmod(site / "db.sqlite3", 0o644)
    assert check_config(write_config(tmp_path / "u.conf", sections)).returncode == 0
    sections["passwords"] = {"update_last_login": True}
    r = check_config(write_config(tmp_path / "u.conf", sections))
    assert r.returncode == 1 and "'nobody' cannot write" in r.stdout, r.stdout
    shutil.rmtree(public)


@pytest.mark.parametrize("body,line,key", [
    ("[database]\nengine = oracle\n", 2, "database.engine"),
    ("[database]\nname = x\n[nss]\nuid_base = -5\n", 4, "nss.uid_base"),
    ("[daemon]\nsocket = /tmp/s\nbogus = 1\n", 3, "daemon.bogus"),
    ("[schema]\nuser_table = auth_user; DROP TABLE x\n", 2, "schema.user_table"),
    ("[schema]\nuser_table = \"evil\"\n", 2, "schema.user_table"),
    ("[passwords]\nrehash_on_login = perhaps\n", 2, "passwords.rehash_on_login"),
])
def test_malformed_config_names_line_and_key(tmp_path, body, line, key):
    p = tmp_path / "bad.conf"
    p.write_text("# comment\n" + body)
    p.chmod(0o600)
    r = check_config(p)
    assert r.returncode != 0
    assert ":%d:" % (line + 1) in r.stderr and key in r.stderr, r.stderr


def test_unknown_hasher_refused(tmp_path):
    p = write_config(tmp_path / "h.conf", {"passwords": {"hashers": "pbkdf2_sha256, rot13"}})
    r = check_config(p)
    assert r.returncode != 0 and "passwords.hashers" in r.stderr and "rot13" in r.stderr


def test_password_never_in_errors(tmp_path):
    p = write_config(tmp_path / "pw.conf", {"database": {"engine": "postgresql", "password": "TopSecret#1",
                                                          "connect_timeout": "soon"}})
    r = check_config(p)
    assert r.returncode != 0 and "database.connect_timeout" in r.stderr
    assert "TopSecret" not in r.stdout + r.stderr


@pytest.mark.parametrize("mode", [0o620, 0o602, 0o666])
def test_unsafe_config_mode_refused(tmp_path, mode):
    p = write_config(tmp_path / "m.conf", {"database": {"name": "/nonexistent"}})
    p.chmod(mode)
    r = check_config(p)
    assert r.returncode != 0 and "writable by group or others" in r.stderr, r.stderr


def test_unsafe_config_owner_refused(tmp_path):
    p = write_config(tmp_path / "o.conf", {"database": {"name": "/nonexistent"}})
    os.chown(p, 65534, 65534)
    r = check_config(p)
    assert r.returncode != 0 and "owned by root" in r.stderr, r.stderr


def test_unsafe_password_file_refused(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("secret\n")
    pw.chmod(0o660)
    p = write_config(tmp_path / "pf.conf", {"database": {"engine": "postgresql", "password_file": pw}})
    r = check_config(p)
    assert r.returncode != 0 and "password_file" in r.stderr and "secret" not in r.stderr
    pw.chmod(0o600)
    # Read now (no server behind the test's config: the database is the
    # only complaint left).
    r = check_config(p)
    assert "password_file" not in r.stderr and "cannot open or log in" in r.stdout, r.stdout + r.stderr


# --- database faults -----------------------------------------------------------------

def test_sqlite_missing_database_is_unavailable(tmp_path):
    with Daemon(BUILD, tmp_path / "d", {"engine": "sqlite3", "name": str(tmp_path / "none.sqlite3")}) as d:
        with d.client() as c:
            assert c.authenticate("user001", "x") == "Unavailable"
            assert c.pw_by_name("user001") == "Unavailable"
        assert d.alive()


@pytest.mark.parametrize("server,population", [("pg_cluster", "pg_population"), ("mariadb", "mysql_population")])
def test_database_server_down_and_back(server, population, request, tmp_path):
    pop = request.getfixturevalue(population)
    server = request.getfixturevalue(server)
    u = pop.spec["users"][0]
    with Daemon(BUILD, tmp_path / "d", pop.db_section, pop) as d:
        with d.client() as c:
            assert c.authenticate(u["username"], u["password"]) == "Ok"
        server.stop()
        try:
            with d.client() as c:
                t = time.time()
                assert c.authenticate(u["username"], u["password"]) == "Unavailable"
                assert c.pw_by_name("user003") == "Unavailable"
                assert time.time() - t < 2 * 2 + 1   # within the connect timeout (2 s)
            assert d.alive()
            # The breaker is open (django-authd(8), DATABASE FAILURES).
            with d.client() as c:
                assert c.stats()["database_available"] == "no"
        finally:
            server.start()
        # Its probe finds the server back within a few seconds.
        assert d.wait_database()
        with d.client() as c:
            assert c.authenticate(u["username"], u["password"]) == "Ok"
            assert c.pw_by_name("user004")["name"] == "user004"
        assert "TopSecret" not in d.log_text() and pop.db_section["password"] not in d.log_text()


def test_postgres_restart_reuses_nothing_stale(pg_population, pg_cluster, tmp_path):
    """A pooled connection killed by a server restart is replaced on the next request."""
    pop = pg_population
    u = pop.spec["users"][1]
    with Daemon(BUILD, tmp_path / "d", pop.db_section, pop) as d:
        with d.client() as c:
            assert c.authenticate(u["username"], u["password"]) in ("Ok", "WrongPassword", "NoUser")
            pg_cluster.stop()
            pg_cluster.start()
            exp = pop.expected["users"][u["username"]]["right"]
            assert {"Ok": True, "WrongPassword": False, "NoUser": None}[c.authenticate(u["username"], u["password"])] == exp


# --- callers -------------------------------------------------------------------------

# Authenticate, PwByName, Flush, ChangePassword, as nobody (see run_as_nobody).
CALLS = '''
print(call(2, s("user001") + s("pw") + s("svc") + s("")),   # Authenticate
      call(10, s("user001")),                                 # PwByName
      call(30, b""),                                          # Flush
      call(4, s("user001") + s("a") + s("b") + struct.pack(">I", 0) + s("svc")))  # ChangePassword
'''


def test_caller_not_in_auth_clients_is_refused(daemon_sqlite):
    r = run_as_nobody(daemon_sqlite.socket, CALLS)
    assert r.returncode == 0, r.stderr
    auth, lookup, flush, change = map(int, r.stdout.split())
    assert auth == djproto.STATUS["Denied"]
    assert lookup == djproto.STATUS["Ok"]
    assert flush == djproto.STATUS["Denied"]
    assert change == djproto.STATUS["Denied"]
    assert "authenticate refused: caller uid 65534" in daemon_sqlite.log_text()


def test_auth_clients_group(sqlite_population, tmp_path):
    """@group entries: a member by primary gid may authenticate."""
    with Daemon(BUILD, tmp_path / "d", sqlite_population.db_section, sqlite_population,
                daemon={"auth_clients": "@nogroup"}) as d:
        r = run_as_nobody(d.socket, CALLS)
        auth = int(r.stdout.split()[0])
        assert auth == djproto.STATUS["NoUser"] or auth == djproto.STATUS["WrongPassword"]


# --- protocol abuse ------------------------------------------------------------------

def test_hostile_frames(daemon_sqlite):
    d = daemon_sqlite
    with d.client() as c:
        op, st, _ = c.raw(djproto.frame("Hello", version=9))
        assert st == djproto.STATUS["BadVersion"]
    with d.client() as c:
        op, st, _ = c.raw(djproto.frame(99))
        assert st == djproto.STATUS["BadRequest"]
        # A string length beyond the frame.
        op, st, _ = c.raw(djproto.frame("PwByName", struct.pack(">I", 1000) + b"abc"))
        assert st == djproto.STATUS["BadRequest"]
        # Trailing bytes.
        op, st, _ = c.raw(djproto.frame("PwByName", djproto._str("user001") + b"x"))
        assert st == djproto.STATUS["BadRequest"]
        # NUL inside a string.
        op, st, _ = c.raw(djproto.frame("PwByName", djproto._str("user\0001")))
        assert st == djproto.STATUS["BadRequest"]
        # A list count the frame cannot hold.
        op, st, _ = c.raw(djproto.frame("Account", djproto._str("u") + struct.pack(">I", 2**31)))
        assert st == djproto.STATUS["BadRequest"]
        assert c.pw_by_name("user001")["uid"] == 200001   # the connection still works
    # A length past the limit: the daemon closes without reading it.
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(d.socket))
    s.sendall(struct.pack(">I", 2**31) + b"\x02\x01\x00\x00")
    s.settimeout(5)
    assert s.recv(10) == b""
    s.close()
    # Half a frame, then the client goes away.
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(d.socket))
    s.sendall(struct.pack(">I", 100) + b"\x01")
    s.close()
    # Requests then shutdown of the writing side (as the modules send one):
    # every one answered in order (from the database, then from the cache),
    # then the daemon closes at once.
    for _ in range(2):
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(d.socket))
        s.sendall(djproto.frame("PwByName", djproto._str("user001")) + djproto.frame("Hello") +
                  djproto.frame("PwByName", djproto._str("user002")))
        s.shutdown(socket.SHUT_WR)
        s.settimeout(5)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        s.close()
        ops, names = [], []
        while data:
            (n,) = struct.unpack(">I", data[:4])
            payload, data = data[4:4 + n], data[4 + n:]
            ops.append(payload[1])
            if payload[1] == djproto.OP["PwByName"]:
                names.append(djproto.Reader(payload[4:]).passwd()["name"])
        assert ops == [djproto.OP["PwByName"], djproto.OP["Hello"], djproto.OP["PwByName"]]
        assert names == ["user001", "user002"]
    with d.client() as c:
        assert c.hello()[0] == "Ok"


def test_many_idle_connections_do_not_block(daemon_sqlite):
    idle = []
    try:
        for _ in range(300):
            s = socket.socket(socket.AF_UNIX)
            s.connect(str(daemon_sqlite.socket))
            idle.append(s)
        t = time.time()
        with daemon_sqlite.client() as c:
            for i in range(1, 50):
                c.pw_by_uid(200000 + i)
        assert time.time() - t < 2
    finally:
        for s in idle:
            s.close()


def test_connection_limit_and_idle_timeout(sqlite_population, tmp_path):
    with Daemon(BUILD, tmp_path / "d", sqlite_population.db_section, sqlite_population,
                daemon={"max_connections": 5, "idle_timeout": 1}) as d:
        socks = []
        for _ in range(5):
            s = socket.socket(socket.AF_UNIX)
            s.connect(str(d.socket))
            socks.append(s)
        time.sleep(0.3)
        extra = socket.socket(socket.AF_UNIX)
        extra.connect(str(d.socket))
        extra.settimeout(5)
        # Over the limit the longest idle connection makes room, and the
        # newcomer, idle too, is closed after idle_timeout like the others.
        assert extra.recv(1) == b""
        extra.close()
        time.sleep(2.5)               # idle ones are closed by the daemon
        for s in socks:
            s.settimeout(5)
            assert s.recv(1) == b""
            s.close()
        with d.client() as c:
            assert c.hello()[0] == "Ok"


def test_lookups_do_not_wait_behind_hashes(sqlite_population, tmp_path):
    """Slow dummy hashes (unknown users, many PBKDF2 iterations) fill the
    authentication workers; lookups made meanwhile still answer at once."""
    # About 2 s a hash with the SHA-NI kernel (longer without it, or under
    # the sanitizers): long enough for many lookups to happen meanwhile.
    iterations = 20_000_000
    with Daemon(BUILD, tmp_path / "d", sqlite_population.db_section, sqlite_population,
                daemon={"auth_threads": 2}, passwords={"pbkdf2_iterations": iterations}) as d:
        def slow():
            with d.client(timeout=120) as c:
                c.authenticate("ghost-user", "pw")
        threads = [threading.Thread(target=slow) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.1)
        times = []
        with d.client() as c:
            i = 0
            while any(t.is_alive() for t in threads):
                t0 = time.time()
                c.pw_by_uid(200000 + 1 + i % 200)
                times.append(time.time() - t0)
                i += 1
        for t in threads:
            t.join()
        assert len(times) >= 5, "hashes were too fast for this test to mean anything"
        assert max(times) < 0.5, max(times)


def test_socket_activation(sqlite_population, tmp_path):
    """LISTEN_FDS/LISTEN_PID: the daemon serves the socket it is given on fd 3."""
    path = tmp_path / "activated.sock"
    ls = socket.socket(socket.AF_UNIX)
    ls.bind(str(path))
    ls.listen(16)
    conf = write_config(tmp_path / "a.conf", {"database": sqlite_population.db_section,
                                              "daemon": {"socket": str(tmp_path / "unused" / "s")}})
    fd = ls.fileno()

    def child():
        os.dup2(fd, 3)

    p = subprocess.Popen(["/bin/sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" --config "$1" --foreground',
                          str(AUTHD), str(conf)], preexec_fn=child, pass_fds=(3, fd),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        ok = False
        for _ in range(100):
            try:
                with djproto.Client(path, timeout=2) as c:
                    ok = c.hello()[0] == "Ok"
                    break
            except OSError:
                time.sleep(0.05)
        assert ok
        assert not (tmp_path / "unused" / "s").exists()
    finally:
        p.terminate()
        p.wait(timeout=10)
        ls.close()


# --- django-authctl ------------------------------------------------------------------

def authctl(*args, stdin=b""):
    return subprocess.run([str(AUTHCTL), *args], input=stdin, capture_output=True, timeout=30)


def test_authctl_commands(daemon_sqlite):
    d = daemon_sqlite
    pop = d.db
    sock = ["--socket", str(d.socket)]
    r = authctl("status", *sock)
    assert r.returncode == 0 and b"protocol 2" in r.stdout
    r = authctl("status", "--config", str(d.config))
    assert r.returncode == 0
    r = authctl("user", *sock, "user001")
    assert r.returncode == 0 and r.stdout.startswith(b"user001:x:200001:100:")
    r = authctl("user", *sock, "200001")
    assert r.stdout.startswith(b"user001:x:200001:")
    assert authctl("user", *sock, "nosuch").returncode == 1
    r = authctl("group", *sock, "devs")
    assert r.returncode == 0 and r.stdout.startswith(b"devs:x:")
    name = next(n for n, e in pop.expected["users"].items() if e["id"] and len(e["groups"]) >= 2
                and e["is_active"] and n.startswith("user"))
    r = authctl("groups", *sock, name)
    assert sorted(r.stdout.decode().split()) == sorted(g for g in pop.expected["users"][name]["groups"]
                                                       if " " not in g and ":" not in g and not g.startswith("-"))
    # auth: 0 ok, 1 wrong, 2 no such user or inactive, 3 unavailable.
    good = next(u for u in pop.spec["users"] if pop.expected["users"][u["username"]]["right"] is True)
    inactive = next(u for u in pop.spec["users"] if pop.expected["users"][u["username"]]["right"] is None)
    assert authctl("auth", *sock, good["username"], stdin=good["password"].encode()).returncode == 0
    assert authctl("auth", *sock, good["username"], stdin=(good["password"] + "\n").encode()).returncode == 1
    assert authctl("auth", *sock, inactive["username"], stdin=inactive["password"].encode()).returncode == 2
    assert authctl("auth", "--socket", "/nonexistent/socket", "x", stdin=b"pw").returncode == 3
    assert authctl("flush", *sock).returncode == 0


def test_drops_privileges(sqlite_population, tmp_path):
    """[daemon] user: the socket is opened as root, then the daemon runs as
    that user (and can still read a database it has access to)."""
    # pytest's temporary directories are closed to other users: use one in /tmp.
    dbdir = pathlib.Path(tempfile.mkdtemp(prefix="djauth-nobody-"))
    db = dbdir / "db.sqlite3"
    shutil.copyfile(sqlite_population.db_section["name"], db)
    for p in (dbdir, db):
        os.chown(p, 65534, 65534)
    try:
        check_dropped(sqlite_population, tmp_path, db)
    finally:
        shutil.rmtree(dbdir, ignore_errors=True)


def check_dropped(sqlite_population, tmp_path, db):
    with Daemon(BUILD, tmp_path / "d", {"engine": "sqlite3", "name": str(db)}, sqlite_population,
                daemon={"user": "nobody"}) as d:
        status = pathlib.Path("/proc/%d/status" % d.proc.pid).read_text()
        uids = next(l for l in status.splitlines() if l.startswith("Uid:")).split()[1:]
        assert uids == ["65534"] * 4
        assert os.stat(d.socket).st_uid == 0
        with d.client() as c:
            assert c.pw_by_name("user001")["uid"] == 200001


def test_detaches_without_foreground(sqlite_population, tmp_path):
    sock = tmp_path / "bg" / "socket"
    conf = write_config(tmp_path / "bg.conf", {"database": sqlite_population.db_section,
                                               "daemon": {"socket": str(sock)}})
    r = subprocess.run([str(AUTHD), "--config", str(conf)], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    # The parent returns once the socket exists; the detached child answers.
    with djproto.Client(sock, timeout=5) as c:
        assert c.hello()[0] == "Ok"
        pid = None
    # The detached daemon is the process started with this very config file.
    for entry in pathlib.Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(conf).encode() in (entry / "cmdline").read_bytes():
                pid = int(entry.name)
        except OSError:
            pass
    assert pid
    os.kill(pid, 15)
    for _ in range(100):
        if not sock.exists():
            break
        time.sleep(0.05)
    assert not sock.exists()


def test_postgres_statement_timeout(pg_population, pg_cluster, tmp_path):
    """A statement stuck behind a lock is cancelled at query_timeout: the caller
    gets Unavailable in time, the server stops running it, the daemon goes on."""
    import psycopg2

    pop = pg_population
    locker = psycopg2.connect(host=str(pg_cluster.sock), port=pg_cluster.port, dbname="site", user="django",
                              password=pop.db_section["password"])
    with Daemon(BUILD, tmp_path / "d", dict(pop.db_section, query_timeout=1), pop,
                cache={"positive_ttl": 0, "negative_ttl": 0}) as d:
        with d.client() as c:
            assert c.pw_by_name("user001")["name"] == "user001"   # a pooled connection exists
            cur = locker.cursor()
            cur.execute("LOCK TABLE auth_user IN ACCESS EXCLUSIVE MODE")
            try:
                t = time.time()
                assert c.pw_by_name("user002") == "Unavailable"
                elapsed = time.time() - t
                assert 0.9 < elapsed < 3, elapsed
                time.sleep(0.3)
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'django-authd'"
                            " AND state = 'active'")
                assert cur.fetchone()[0] == 0   # cancelled on the server too
            finally:
                locker.rollback()
            # The timeout opened the breaker; its probe closes it.
            assert d.wait_database()
            assert c.pw_by_name("user002")["name"] == "user002"
        assert "statement timed out" in d.log_text()
    locker.close()


def test_requests_of_clients_gone_are_not_run(sqlite_population, tmp_path):
    """Logins queued behind a hash whose clients then went away (timed out,
    killed) are dropped, not hashed: the next login waits for the hash
    running, not for every abandoned one."""
    with Daemon(BUILD, tmp_path / "d", sqlite_population.db_section, sqlite_population,
                daemon={"auth_threads": 1}, passwords={"pbkdf2_iterations": 2_000_000}) as d:
        def login():
            t0 = time.time()
            with d.client(timeout=300) as c:
                assert c.authenticate("ghost-user", "pw") == "NoUser"
            return time.time() - t0
        one = min(login() for _ in range(2))   # one hash, with nothing queued
        gone = []
        for _ in range(10):
            s = socket.socket(socket.AF_UNIX)
            s.connect(str(d.socket))
            s.sendall(djproto.frame("Authenticate", djproto._str("ghost-user") + djproto._str("pw") +
                                    djproto._str("test") + djproto._str("")))
            gone.append(s)
        time.sleep(0.2)    # all queued, the first one hashing
        for s in gone:
            s.close()
        # Without dropping them: ten hashes before this one.
        assert login() < one * 4 + 0.5, one
        assert d.alive()
