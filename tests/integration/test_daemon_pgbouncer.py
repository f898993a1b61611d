"""django-authd behind PgBouncer in transaction pooling mode: many daemon
workers share one server connection, so any session state or named prepared
statement would break. Skipped when pgbouncer is not installed (Debian
package pgbouncer)."""
import pathlib
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import BUILD
from fixtures_daemon import Daemon
from fixtures_db import DJANGO_PASSWORD, free_port

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
AUTH_MAP = {"Ok": True, "WrongPassword": False, "NoUser": None}


@pytest.fixture(scope="module")
def pgbouncer(pg_population, pg_cluster):
    d = pathlib.Path(tempfile.mkdtemp(prefix="djauth-pgb-"))
    port = free_port(19000, 19499)
    (d / "userlist.txt").write_text('"django" "%s"\n' % DJANGO_PASSWORD)
    (d / "pgbouncer.ini").write_text(
        "[databases]\nsite = host=%s port=%d dbname=site\n"
        "[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = %d\nunix_socket_dir =\n"
        "auth_type = scram-sha-256\nauth_file = %s/userlist.txt\npool_mode = transaction\n"
        "default_pool_size = 1\nmax_client_conn = 200\nserver_reset_query =\n"
        "logfile = %s/pgbouncer.log\npidfile = %s/pgbouncer.pid\n"
        % (pg_cluster.sock, pg_cluster.port, port, d, d, d))
    shutil.chown(d, "postgres", "postgres")
    for f in d.iterdir():
        shutil.chown(f, "postgres", "postgres")
    proc = subprocess.Popen(["runuser", "-u", "postgres", "--", PGBOUNCER, str(d / "pgbouncer.ini")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    yield port, d
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(d, ignore_errors=True)


def test_transaction_pooling(pg_population, pgbouncer, tmp_path):
    port, d = pgbouncer
    pop = pg_population
    section = dict(pop.db_section, host="127.0.0.1", port=str(port))
    users = [u for u in pop.spec["users"] if u["username"].startswith("user")][:60]
    errors = []
    with Daemon(BUILD, tmp_path / "d", section, pop, cache={"positive_ttl": 0, "negative_ttl": 0},
                daemon={"lookup_threads": 4, "auth_threads": 2}) as dm:
        def worker(part):
            with dm.client() as c:
                for u in part:
                    exp = pop.expected["users"][u["username"]]
                    got = AUTH_MAP.get(c.authenticate(u["username"], u["password"]))
                    if got != exp["right"]:
                        errors.append(("auth", u["username"], got, exp["right"]))
                    p = c.pw_by_name(u["username"])
                    if not isinstance(p, dict) or p["uid"] != 200000 + exp["id"]:
                        errors.append(("pw", u["username"], p))
                    st, _ = c.account(u["username"], perms=["auth.view_group"])
                    if exp["is_active"] and (st == "Ok") != exp["perms"]["auth.view_group"]:
                        errors.append(("perm", u["username"], st))
        threads = [threading.Thread(target=worker, args=(users[i::6],)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        log = dm.log_text()
    assert not errors, errors[:5]
    assert "unavailable" not in log.lower(), log[-2000:]
