"""django-authd behind PgBouncer in transaction pooling mode: many daemon
workers share one server connection, so any session state or named prepared
statement would break. Skipped when pgbouncer is not installed (Debian
package pgbouncer)."""
import threading

import pytest

from conftest import BUILD
from fixtures_daemon import Daemon
from fixtures_db import PgBouncer

AUTH_MAP = {"Ok": True, "WrongPassword": False, "NoUser": None}


@pytest.fixture(scope="module")
def pgbouncer(pg_population, pg_cluster):
    bouncer = PgBouncer(pg_cluster, "site", pool_size=1, ports=(19000, 19499))
    yield bouncer.port, bouncer.dir
    bouncer.stop()


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
