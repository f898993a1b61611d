"""Many hosts on one PostgreSQL (docs/scale.md): three daemons, as three
hosts would run them (each its own socket, cache and shared cache file), on
a primary with a streaming replica and PgBouncer:

  * reads go to the replica ([database] replica), writes (last_login, a
    password change, a rehash) through PgBouncer in transaction mode to the
    primary ([database] itself), LISTEN to the primary directly ([database]
    listen), since PgBouncer in transaction mode delivers no notifications;
  * a change committed by real Django on the primary reaches all three
    within the deadline, though each must first wait for the replica to
    replay it (else it would read the old row back and keep it an hour);
  * the primary restarted: the listeners come back, and a change committed
    right after the restart (while they reconnect) is not lost;
  * the replica stopped: cached answers still served; a change committed
    meanwhile is applied once the replica is back and has replayed it;
  * the primary stopped: lookups and logins still work from the replica,
    and a failed last_login write does not open the breaker.
The deadline is a behaviour check with a wide margin (a stale answer would
last positive_ttl = 3600 s); bench/ measures the delay."""
import shutil
import subprocess
import tempfile
import time
import pathlib

import pytest

from conftest import BUILD
from fixtures_daemon import Daemon, write_config
from fixtures_db import PG_BIN, PgBouncer, PgCluster, free_port
from test_push_invalidation import django, eventually, members, print_sql, psql_as_owner, wait_log

DEADLINE = 4.0
# After a server restarts, the replica's WAL receiver reconnects on its own
# schedule (wal_retrieve_retry_interval, 5 s): a change waits for that.
RECONNECT_DEADLINE = 20.0
CACHE = {"positive_ttl": 3600, "negative_ttl": 3600}

SEED = """
from django.contrib.auth.models import Group, User
ops = Group.objects.create(name="ops")
for name in ("alice", "bob", "carol", "dave"):
    User.objects.create_user(name, password=name + "-pw-1").groups.add(ops)
"""


def run_pg(tool, *args, check=True):
    return subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / tool), *args], capture_output=True,
                          text=True, check=check, timeout=120)


class Replica:
    """A streaming replica of `primary` (pg_basebackup -R), on its own port
    and socket directory."""

    def __init__(self, primary):
        self.base = pathlib.Path(tempfile.mkdtemp(prefix="djauth-pgr-"))
        self.base.chmod(0o755)
        self.sock = self.base / "sock"
        self.sock.mkdir()
        self.data = self.base / "data"
        self.port = free_port()
        shutil.chown(self.base, "postgres", "postgres")
        shutil.chown(self.sock, "postgres", "postgres")
        # -c fast: a checkpoint at once, not one spread over minutes.
        run_pg("pg_basebackup", "-c", "fast", "-D", str(self.data), "-R", "-X", "stream", "-h", str(primary.sock),
               "-p", str(primary.port), "-U", "postgres")

    def start(self):
        run_pg("pg_ctl", "-D", str(self.data), "-l", str(self.base / "log"), "-w", "-o",
               "-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c max_connections=200" % (self.port, self.sock),
               "start")

    def stop(self):
        run_pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def psql(self, sql, db="postgres"):
        r = subprocess.run(["runuser", "-u", "postgres", "--", "/usr/bin/psql", "-X", "-q", "-A", "-t", "-h",
                            str(self.sock), "-p", str(self.port), "-U", "postgres", "-d", db, "-c", sql],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    def destroy(self):
        run_pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    """Primary (replication allowed), replica, PgBouncer in front of the
    primary; a Django site with the triggers."""
    primary = PgCluster()
    try:
        yield from _topology(primary, tmp_path_factory)
    finally:
        primary.destroy()


def _topology(primary, tmp_path_factory):
    hba = primary.data / "pg_hba.conf"
    hba.write_text("local replication postgres trust\n" + hba.read_text())
    run_pg("pg_ctl", "-D", str(primary.data), "reload")
    primary.createdb("site")
    env = primary.env("site")
    django(env, "from django.core.management import call_command\ncall_command('migrate', verbosity=0)\n" + SEED)
    d = tmp_path_factory.mktemp("hosts")
    sql = print_sql(write_config(d / "print.conf", {"database": primary.db_section("site")}), "install-triggers")
    psql_as_owner(primary, "site", sql)
    replica = Replica(primary)
    try:
        replica.start()
        yield from _hosts(primary, replica, env, tmp_path_factory)
    finally:
        replica.destroy()


def _hosts(primary, replica, env, tmp_path_factory):
    bouncer = PgBouncer(primary, "site", pool_size=2, ports=(19500, 19999))
    database = dict(primary.db_section("site"), host="127.0.0.1", port=str(bouncer.port),
                    replica="host=%s port=%d" % (replica.sock, replica.port),
                    listen="host=%s port=%d" % (primary.sock, primary.port))
    daemons = []
    try:
        for i in range(3):
            dm = Daemon(BUILD, tmp_path_factory.mktemp("host%d" % i), database, cache=CACHE,
                        passwords={"update_last_login": True, "allow_change": True})
            dm.start()
            daemons.append(dm)
        for dm in daemons:
            wait_log(dm, "listening on channel django_auth")
        yield primary, replica, env, daemons
    finally:
        for dm in daemons:
            dm.stop()
            dm.cleanup()
        bouncer.stop()


def on_every_host(daemons, probe, want, deadline=DEADLINE):
    """probe(client) becomes `want` on every daemon within the deadline."""
    for dm in daemons:
        with dm.client() as c:
            assert eventually(lambda: probe(c), want, deadline) == want, dm.log_text()[-3000:]


def test_reads_from_the_replica_writes_to_the_primary(topology):
    primary, replica, env, daemons = topology
    for dm in daemons:
        with dm.client() as c:
            assert c.pw_by_name("alice")["name"] == "alice"
            assert c.authenticate("alice", "alice-pw-1") == "Ok"
    # The daemons' reading connections are on the replica.
    assert int(replica.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'django-authd'")) >= 1
    # last_login went to the primary (through PgBouncer), and the replica has it too.
    assert primary.psql("SELECT (last_login IS NOT NULL) AS set FROM auth_user WHERE username = 'alice'",
                        db="site").split()[2] == "t"
    # A password change through one host: written to the primary, seen by all.
    with daemons[0].client() as c:
        assert c.change_password("bob", "bob-pw-1", "bob-pw-2-Longer!") == "Ok"
    on_every_host(daemons, lambda c: c.authenticate("bob", "bob-pw-2-Longer!"), "Ok")


def test_a_change_reaches_every_host(topology):
    _, _, env, daemons = topology
    for dm in daemons:
        with dm.client() as c:
            assert "carol" in members(c, "ops")
            assert "carol" in members(c, "ops")   # cached now
    t0 = time.monotonic()
    django(env, "from django.contrib.auth.models import Group, User\n"
                "User.objects.get(username='carol').groups.remove(Group.objects.get(name='ops'))\n")
    on_every_host(daemons, lambda c: "carol" in members(c, "ops"), False)
    assert time.monotonic() - t0 < DEADLINE + 30   # the Django process's own start-up included


def test_primary_restart_loses_no_change(topology):
    primary, _, env, daemons = topology
    for dm in daemons:
        with dm.client() as c:
            assert "dave" in members(c, "ops")
    primary.stop()
    primary.start()
    # Committed at once, while the listeners may still be reconnecting.
    django(env, "from django.contrib.auth.models import User\n"
                "u = User.objects.get(username='dave'); u.is_active = False; u.save()\n")
    on_every_host(daemons, lambda c: "dave" in members(c, "ops"), False, RECONNECT_DEADLINE)
    for dm in daemons:
        wait_log(dm, "listening again")


def test_change_while_the_replica_is_down(topology):
    """The replica stopped: cached answers are still served. A change
    committed on the primary meanwhile is applied once the replica has it:
    until then the daemon answers what its replica holds (an answer dropped
    earlier would be read back unchanged from a replica that comes back
    behind, and kept an hour)."""
    primary, replica, env, daemons = topology
    for dm in daemons:
        with dm.client() as c:
            assert "alice" in members(c, "ops")
            assert c.pw_by_name("carol")["name"] == "carol"
    replica.stop()
    try:
        for dm in daemons:
            with dm.client() as c:
                assert c.pw_by_name("carol")["name"] == "carol"      # cached
        django(env, "from django.contrib.auth.models import User\n"
                    "u = User.objects.get(username='alice'); u.is_active = False; u.save()\n")
        time.sleep(1)
        for dm in daemons:
            with dm.client() as c:
                assert "alice" in members(c, "ops")                  # the replica's view, still
    finally:
        replica.start()
    on_every_host(daemons, lambda c: "alice" in members(c, "ops"), False, RECONNECT_DEADLINE)


def test_primary_down_replica_answers(topology):
    primary, _, env, daemons = topology
    primary.stop()
    try:
        for dm in daemons:
            with dm.client() as c:
                dm_stats = c.stats()
                assert c.pw_by_uid(c.pw_by_name("carol")["uid"])["name"] == "carol"
                # The login reads from the replica; the last_login write fails
                # and is only logged.
                assert c.authenticate("carol", "carol-pw-1") == "Ok"
                assert c.stats()["database_available"] == dm_stats["database_available"] == "yes"
    finally:
        primary.start()
