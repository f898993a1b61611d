"""The trust boundary (README, "Trust boundary"): a Django site never claims a
local account, a privileged group, or a login it was not granted.

Real Django makes a site whose users and groups are named like the host's own
accounts and like the groups that grant power (sudo, wheel, adm, docker, ...);
the real daemon serves it with its own copy of the host's passwd and group
files; real getent and id run through glibc in a private mount namespace,
real pamtester through pam_wrapper. useradd and groupadd (--prefix) change
the host's files while the daemon runs."""
import os
import pathlib
import shlex
import shutil
import sqlite3
import subprocess
import tempfile
import time

import pytest

import djproto
from conftest import BUILD, SANITIZE, django_env
from fixtures_daemon import GID_BASE, UID_BASE, Daemon, write_config
from mountns import private_argv
from nss_harness import NssRunner
from pam_util import MODULE, PAM_WRAPPER, STRERROR, ServiceDir, pamtester
from sysarch import ASAN_LIBS

HERE = pathlib.Path(__file__).resolve().parent

SEED = r'''
import django
django.setup()
from django.contrib.auth.models import Group, User
from django.core.management import call_command
call_command("migrate", verbosity=0, interactive=False)

def user(name, groups=(), active=True, superuser=False):
    u = User.objects.create_user(name, password="pw-" + name, is_active=active,
                                 is_staff=superuser, is_superuser=superuser)
    for g in groups:
        Group.objects.get_or_create(name=g)[0].user_set.add(u)

user("alice", ["ssh-users", "sudo", "devs"])
user("bob", ["devs", "Wheel", "docker", "adm", "staff", "lxd", "systemd-journal"])
user("root", ["ssh-users", "devs"], superuser=True)   # named like local accounts
user("daemon", ["devs"])
user("www-data", ["ssh-users"])
user("boss", superuser=True)                         # a superuser in no group
user("latecomer", ["ssh-users"])                     # useradd'ed on the host later
user("squatter")                                     # its uid becomes local later
user("lena", ["ssh-users"])                          # local in the caller's view only
user("ghost", ["ssh-users"], active=False)
Group.objects.create(name="users")                   # a local group name
Group.objects.create(name="later-gid")               # its gid becomes local later
Group.objects.create(name="WHEEL-ops")               # merely contains a reserved word
'''

DJANGO_USERS = ["alice", "bob", "root", "daemon", "www-data", "boss", "latecomer", "squatter", "lena", "ghost"]
RESERVED_GROUPS = ["sudo", "Wheel", "docker", "adm", "staff", "lxd", "systemd-journal"]
ACCESS = {"default": "", "web": "*", "sshd": "ssh-users", "closed": ""}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The Django site (SQLite) and the ids real Django gave its rows."""
    work = tmp_path_factory.mktemp("boundary")
    db = work / "db.sqlite3"
    r = subprocess.run(["/usr/bin/python3", "-c", SEED], env=django_env(db_engine="sqlite3", db_name=db),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    con = sqlite3.connect(str(db))
    users = dict(con.execute("SELECT username, id FROM auth_user"))
    groups = dict(con.execute("SELECT name, id FROM auth_group"))
    con.close()
    os.chmod(work, 0o755)
    os.chmod(db, 0o644)
    return db, users, groups


def host_files(directory):
    """A copy of this host's passwd, group and shadow files under
    directory/etc, for the daemon to read and useradd --prefix to change."""
    etc = pathlib.Path(directory) / "etc"
    etc.mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow"):
        if os.path.exists("/etc/" + name):
            shutil.copy2("/etc/" + name, etc / name)
    os.chmod(directory, 0o755)
    return etc


def start_daemon(site, work, access=ACCESS, **sections):
    db, _, _ = site
    etc = host_files(work / "host")
    nss = {"passwd_file": str(etc / "passwd"), "group_file": str(etc / "group")}
    nss.update(sections.pop("nss", {}))
    d = Daemon(BUILD, work / "authd", {"engine": "sqlite3", "name": str(db)}, access=dict(access), nss=nss,
               **sections)
    d.start()
    return d, etc


@pytest.fixture(scope="module")
def daemon(site, tmp_path_factory):
    d, _ = start_daemon(site, tmp_path_factory.mktemp("bd"))
    yield d
    assert d.stop() == 0, d.log_text()
    d.cleanup()


@pytest.fixture(scope="module")
def nss(daemon):
    return NssRunner(BUILD, daemon.socket, sanitize=SANITIZE)


def lines(p):
    return [l for l in p.stdout.splitlines() if l]


def local_entry(db_file, name):
    for line in pathlib.Path(db_file).read_text().splitlines():
        if line.split(":")[0] == name:
            return line
    return None


# --- NSS ---------------------------------------------------------------------------

def test_django_users_named_like_local_accounts_are_not_served(nss, site):
    _, users, _ = site
    for name in ("root", "daemon", "www-data"):
        p = nss.getent("passwd", name)
        assert lines(p) == [local_entry("/etc/passwd", name)], p.stdout
        # ... nor by their Django uid
        assert nss.getent("passwd", str(UID_BASE + users[name])).returncode == 2
    alice = lines(nss.getent("passwd", "alice"))
    assert alice and alice[0].startswith("alice:x:%d:" % (UID_BASE + users["alice"]))
    listed = lines(nss.getent("passwd"))
    django_names = [l.split(":")[0] for l in listed if int(l.split(":")[2]) > UID_BASE]
    assert "alice" in django_names and "bob" in django_names
    for name in ("root", "daemon", "www-data"):
        assert name not in django_names
        assert sum(1 for l in listed if l.split(":")[0] == name) == 1


def test_django_groups_named_like_privileged_or_local_groups_are_not_served(nss, site):
    _, _, groups = site
    for name in RESERVED_GROUPS + ["wheel", "WHEEL", "users"]:
        p = nss.getent("group", name)
        local = local_entry("/etc/group", name)
        assert lines(p) == ([local] if local else []), (name, p.stdout)
    for name in RESERVED_GROUPS + ["users"]:
        assert nss.getent("group", str(GID_BASE + groups[name])).returncode == 2, name
    # A name that only contains a reserved word is the site's own.
    assert lines(nss.getent("group", "WHEEL-ops"))[0].startswith("WHEEL-ops:x:%d:" % (GID_BASE + groups["WHEEL-ops"]))
    listed = lines(nss.getent("group"))
    django = {l.split(":")[0] for l in listed if int(l.split(":")[2]) > GID_BASE}
    assert {"devs", "ssh-users", "WHEEL-ops"} <= django
    assert not django & set(RESERVED_GROUPS + ["users"]), django


def test_members_and_initgroups_leave_hidden_names_out(nss, site):
    _, _, groups = site
    devs = lines(nss.getent("group", "devs"))[0].split(":")[3].split(",")
    assert sorted(devs) == ["alice", "bob"]          # not Django's root or daemon
    ssh = lines(nss.getent("group", "ssh-users"))[0].split(":")[3].split(",")
    assert sorted(ssh) == ["alice", "latecomer", "lena"]   # not root, www-data; ghost inactive
    for user in ("alice", "bob"):
        p = nss.run(["id", "-G", user], check=True)
        gids = {int(g) for g in p.stdout.split()}
        assert GID_BASE + groups["devs"] in gids
        for name in RESERVED_GROUPS:
            assert GID_BASE + groups[name] not in gids, (user, name)
    # initgroups of the local root gains nothing from Django's "root".
    p = nss.run(["id", "-G", "root"], check=True)
    assert all(int(g) < GID_BASE for g in p.stdout.split()), p.stdout


# --- PAM ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def services(daemon):
    svc = ServiceDir()
    for name in ("web", "sshd", "closed", "unlisted"):
        svc.simple(name, daemon.socket)
    return svc


def pam_result(p):
    for code, text in STRERROR.items():
        if code != "PAM_SUCCESS" and text in p.stderr + p.stdout:
            return code
    out = p.stderr + p.stdout
    return "PAM_SUCCESS" if p.returncode == 0 and ("successfully" in out or "done." in out) else out


def test_pam_never_authenticates_a_local_name(services):
    for name in ("root", "daemon", "www-data"):
        p = pamtester(services.path, "web", name, "pw-" + name, ops=("authenticate",))
        assert pam_result(p) == "PAM_USER_UNKNOWN", (name, p.stderr)
        p = pamtester(services.path, "web", name, "", ops=("acct_mgmt",))
        assert pam_result(p) == "PAM_USER_UNKNOWN", (name, p.stderr)
    p = pamtester(services.path, "web", "alice", "pw-alice")
    assert pam_result(p) == "PAM_SUCCESS", p.stderr


# (service, user) -> (auth, account): [access] default = (nobody), web = *,
# sshd = ssh-users, closed = (nobody); "unlisted" has no line.
MATRIX = {
    ("web", "alice"): ("PAM_SUCCESS", "PAM_SUCCESS"),
    ("web", "bob"): ("PAM_SUCCESS", "PAM_SUCCESS"),
    ("web", "boss"): ("PAM_SUCCESS", "PAM_SUCCESS"),
    ("web", "ghost"): ("PAM_USER_UNKNOWN", "PAM_ACCT_EXPIRED"),
    ("sshd", "alice"): ("PAM_SUCCESS", "PAM_SUCCESS"),
    ("sshd", "bob"): ("PAM_USER_UNKNOWN", "PAM_PERM_DENIED"),
    ("sshd", "boss"): ("PAM_USER_UNKNOWN", "PAM_PERM_DENIED"),      # superusers get no bypass
    ("closed", "alice"): ("PAM_USER_UNKNOWN", "PAM_PERM_DENIED"),
    ("unlisted", "alice"): ("PAM_USER_UNKNOWN", "PAM_PERM_DENIED"),  # the empty default
    ("unlisted", "boss"): ("PAM_USER_UNKNOWN", "PAM_PERM_DENIED"),
}


@pytest.mark.parametrize("service,user", sorted(MATRIX))
def test_access_per_service(services, daemon, service, user):
    want_auth, want_acct = MATRIX[(service, user)]
    p = pamtester(services.path, service, user, "pw-" + user, ops=("authenticate",))
    assert pam_result(p) == want_auth, p.stderr
    p = pamtester(services.path, service, user, "", ops=("acct_mgmt",))
    assert pam_result(p) == want_acct, p.stderr
    if want_acct == "PAM_PERM_DENIED":
        rule = "[access] %s = " % service if service != "unlisted" else "[access] default = "
        assert "account refused: user=%s service=%s: not allowed by %s" % (user, service, rule) in daemon.log_text()


def test_access_refusal_is_an_unknown_user(daemon):
    """The daemon's answer to a user the rule leaves out is the unknown user's,
    right password or not."""
    c = daemon.client()
    assert c.authenticate("bob", "pw-bob", service="sshd") == "NoUser"
    assert c.authenticate("bob", "wrong", service="sshd") == "NoUser"
    assert c.authenticate("nosuchuser", "pw-bob", service="sshd") == "NoUser"
    assert c.authenticate("bob", "pw-bob", service="web") == "Ok"
    assert c.authenticate("bob", "pw-bob", service="WEB") == "Ok"
    assert c.account("bob", service="sshd")[0] == "PermDenied"


def in_namespace_pamtester(passwd_text, services, service, user, password, ops):
    """pamtester in a mount namespace whose /etc/passwd is `passwd_text`: the
    calling process's own view of who a user is."""
    with tempfile.TemporaryDirectory() as d:
        passwd = pathlib.Path(d) / "passwd"
        passwd.write_text(passwd_text)
        env = dict(os.environ)
        preload = [PAM_WRAPPER]
        if SANITIZE:
            preload = ASAN_LIBS + preload
            env["ASAN_OPTIONS"] = "detect_leaks=0:halt_on_error=1"
        env.update(LD_PRELOAD=":".join(preload), PAM_WRAPPER="1", PAM_WRAPPER_SERVICE_DIR=str(services.path))
        return subprocess.run(private_argv(["pamtester", "-v", service, user, *ops],
                                           "mount --bind %s /etc/passwd" % shlex.quote(str(passwd))),
                              input=password + "\n", env=env, capture_output=True, text=True, timeout=60)


def test_module_asks_the_host_who_the_user_is(services, site, tmp_path):
    """lena is a Django user the daemon serves, but the calling process's
    passwd says lena is local uid 1500: not ours, in every phase. When the
    host's entry is the Django one (uid_base + id), she is."""
    _, users, _ = site
    base = pathlib.Path("/etc/passwd").read_text()
    local = base + "lena:x:1500:1500::/home/lena:/bin/sh\n"
    for ops in (("authenticate",), ("acct_mgmt",), ("chauthtok",)):
        p = in_namespace_pamtester(local, services, "sshd", "lena", "pw-lena", ops)
        assert pam_result(p) == "PAM_USER_UNKNOWN", (ops, p.stderr)
    django = base + "lena:x:%d:100::/home/lena:/bin/sh\n" % (UID_BASE + users["lena"])
    p = in_namespace_pamtester(django, services, "sshd", "lena", "pw-lena", ("authenticate", "acct_mgmt"))
    assert pam_result(p) == "PAM_SUCCESS", p.stderr


# --- the host's files change while the daemon runs ---------------------------------

def wait_for(pred, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def test_useradd_after_start_counts(site, tmp_path):
    _, users, groups = site
    d, etc = start_daemon(site, tmp_path)
    try:
        ns = NssRunner(BUILD, d.socket, sanitize=SANITIZE)
        svc = ServiceDir()
        svc.simple("web", d.socket)
        # Before: the site's latecomer, squatter and later-gid are served, and
        # cached (the shared cache file included).
        assert lines(ns.getent("passwd", "latecomer"))
        assert lines(ns.getent("passwd", str(UID_BASE + users["squatter"])))
        assert lines(ns.getent("group", "later-gid"))
        assert pam_result(pamtester(svc.path, "web", "latecomer", "pw-latecomer")) == "PAM_SUCCESS"
        prefix = str(etc.parent)
        subprocess.run(["useradd", "--prefix", prefix, "-M", "-N", "latecomer"], check=True, capture_output=True)
        subprocess.run(["useradd", "--prefix", prefix, "-M", "-N", "-u", str(UID_BASE + users["squatter"]),
                        "squatter-local"], check=True, capture_output=True)
        subprocess.run(["groupadd", "--prefix", prefix, "-g", str(GID_BASE + groups["later-gid"]), "lg-local"],
                       check=True, capture_output=True)
        # After: within a second or two, from every cache.
        assert wait_for(lambda: not lines(ns.getent("passwd", "latecomer")), 5)
        assert ns.getent("passwd", "squatter").returncode == 2
        assert ns.getent("passwd", str(UID_BASE + users["squatter"])).returncode == 2
        assert ns.getent("group", "later-gid").returncode == 2
        assert ns.getent("group", str(GID_BASE + groups["later-gid"])).returncode == 2
        members = lines(ns.getent("group", "ssh-users"))[0].split(":")[3].split(",")
        assert "latecomer" not in members
        assert pam_result(pamtester(svc.path, "web", "latecomer", "pw-latecomer")) == "PAM_USER_UNKNOWN"
        log = d.log_text()
        assert "Django user 'latecomer' is not served: the name of a local user" in log
        assert "Django group 'later-gid' is not served: its gid is a local group's" in log
        assert log.count("Django user 'latecomer' is not served") == 1   # logged once
    finally:
        d.stop()
        d.cleanup()


# --- configuration ---------------------------------------------------------------------

def check_config(conf):
    return subprocess.run([str(BUILD / "django-authd"), "--check-config", "--config", str(conf)],
                          capture_output=True, text=True, timeout=60)


def test_check_config_lists_hidden_names_and_warns(daemon):
    p = check_config(daemon.config)
    assert p.returncode == 0, p.stdout + p.stderr
    for line in ("hidden user 'root'", "hidden user 'daemon'", "hidden user 'www-data'", "hidden group 'sudo'",
                 "hidden group 'Wheel'", "hidden group 'users'"):
        assert line in p.stdout, p.stdout
    assert "hidden user 'alice'" not in p.stdout and "hidden group 'WHEEL-ops'" not in p.stdout
    assert "lets nobody log in" not in p.stdout
    sections = dict(daemon.sections)
    sections["access"] = {"default": ""}
    conf = write_config(daemon.workdir / "nobody.conf", sections)
    p = check_config(conf)
    assert p.returncode == 0 and "warning: [access] lets nobody log in through PAM" in p.stdout, p.stdout


def test_prefix_serves_privileged_names_under_its_own(site, tmp_path):
    _, _, groups = site
    d, _ = start_daemon(site, tmp_path, nss={"group_prefix": "dj-"})
    try:
        ns = NssRunner(BUILD, d.socket, sanitize=SANITIZE)
        assert lines(ns.getent("group", "dj-sudo"))[0] == "dj-sudo:x:%d:alice" % (GID_BASE + groups["sudo"])
        assert lines(ns.getent("group", "sudo")) == [local_entry("/etc/group", "sudo")]
        assert ns.getent("group", "dj-users").returncode == 0
    finally:
        d.stop()
        d.cleanup()


@pytest.mark.parametrize("nss,passwd_extra,want", [
    ({"uid_base": 60000}, "", "include 65534 (nobody)"),
    ({"uid_base": 1000, "uid_max": 70000}, "", "overlap systemd's dynamic users (61184-65519)"),
    ({"gid_base": 60000, "gid_max": 61000}, "", None),
    ({}, "intruder:x:250000:100::/:/bin/sh\n", "include 1 local uid (250000)"),
])
def test_id_ranges_that_overlap_the_host_are_refused(tmp_path, site, nss, passwd_extra, want):
    etc = host_files(tmp_path / "host")
    with open(etc / "passwd", "a") as f:
        f.write(passwd_extra)
    # A socket directory every user can reach (pytest's are 0700), not made.
    sections = {"database": {"engine": "sqlite3", "name": str(site[0])},
                "daemon": {"socket": "/tmp/djauth-unused-%d/s" % os.getpid()},
                "nss": dict({"passwd_file": str(etc / "passwd"), "group_file": str(etc / "group")}, **nss),
                "access": {"default": "*"}}
    conf = write_config(tmp_path / "r.conf", sections)
    p = check_config(conf)
    if want is None:
        assert p.returncode == 0, p.stdout
        return
    assert p.returncode == 1 and want in p.stdout, p.stdout
    # The daemon refuses to start with it too.
    r = subprocess.run([str(BUILD / "django-authd"), "--config", str(conf), "--foreground"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and want in r.stderr, r.stderr
