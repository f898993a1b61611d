"""Unprivileged local users attacking django-authd: every local user may talk
to the daemon, so every one is a possible attacker. What they may learn
(account details, counters, the shared cache file, the daemon's memory), what
failed logins tell by their timing, and how secrets are kept off command
lines and out of files others can read."""
import os
import pathlib
import secrets
import shutil
import sqlite3
import statistics
import struct
import subprocess
import tempfile
import time

import djproto
from conftest import BUILD, SANITIZE
from fixtures_daemon import Daemon, run_as_nobody, write_config
from nss_harness import NssRunner

TOP = pathlib.Path(__file__).resolve().parents[2]
AUTHCTL = BUILD / "django-authctl"
AUTHD = BUILD / "django-authd"
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
DENIED, OK = djproto.STATUS["Denied"], djproto.STATUS["Ok"]


def authctl(d, *args, as_nobody=False, **kw):
    cmd = [str(AUTHCTL), *args, "--socket", str(d.socket)]
    return subprocess.run((NOBODY if as_nobody else []) + cmd, capture_output=True, text=True, timeout=60, **kw)


# --- account details and counters ---------------------------------------------------------

# Account (staff required), Stats, then what NSS shows anyway: PwByName,
# GroupsOfUser, Hello.
ASK_ALL = '''
print(call(3, s("user005") + u32(0) + u32(1) + u32(0) + s("sshd")), call(31, b""),
      call(10, s("user005")), call(23, s("user005")), call(1, b""))
'''


def test_account_and_stats_only_for_auth_clients(daemon_sqlite):
    d = daemon_sqlite
    r = run_as_nobody(d.socket, ASK_ALL)
    assert r.returncode == 0, r.stderr
    assert [int(x) for x in r.stdout.split()] == [DENIED, DENIED, OK, OK, OK]
    log = d.log_text()
    assert "account refused: caller uid 65534" in log and "stats refused: caller uid 65534" in log
    # Root still gets them, and django-authctl status shows the counters.
    with d.client() as c:
        assert c.account("user005")[0] in ("Ok", "PermDenied", "Inactive")
        assert "database" in c.stats()
    r = authctl(d, "status")
    assert r.returncode == 0 and "database " in r.stdout and "auth_ok " in r.stdout, r.stderr
    # Anyone else: the daemon answers, the counters are not shown.
    r = authctl(d, "status", as_nobody=True)
    assert r.returncode == 0 and "protocol " in r.stdout, r.stderr
    assert "database" not in r.stdout and "auth_ok" not in r.stdout and "not allowed" in r.stderr


def test_account_and_stats_for_a_listed_client(sqlite_population, tmp_path):
    with Daemon(BUILD, tmp_path / "d", sqlite_population.db_section, sqlite_population,
                daemon={"auth_clients": "nobody"}) as d:
        r = run_as_nobody(d.socket, ASK_ALL)
        assert r.returncode == 0, r.stderr
        account, stats = [int(x) for x in r.stdout.split()][:2]
        assert account != DENIED and stats == OK


# --- the shared cache file ------------------------------------------------------------------

def files_under(root):
    return sorted(p for p in pathlib.Path(root).rglob("*") if p.is_file())


READ_ALL = '''
import pathlib
out = []
for p in sorted(pathlib.Path(sys.argv[2]).rglob("*")):
    if p.is_file():
        try:
            data = p.read_bytes()
        except OSError:
            continue
        out.append("%s %d %d" % (p.name, sys.argv[3].encode() in data, sys.argv[4].encode() in data))
print(";".join(out))
'''


def read_as_nobody(d, secret, known):
    r = subprocess.run(NOBODY + ["/usr/bin/python3", "-c", "import sys\n" + READ_ALL, str(d.socket), str(d.sockdir),
                                 secret, known], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return {name: (bool(int(s)), bool(int(k))) for name, s, k in (x.split() for x in r.stdout.strip().split(";") if x)}


def slots(data):
    """(slot_size, slot_count, [slot bytes]) of a cache file (common/shared_cache.h)."""
    magic, version, header_size, slot_size, slot_count = struct.unpack_from("<QIIII", data)
    assert magic == 0x31304d48534a4444 and header_size == 64
    return [data[64 + i * slot_size:64 + (i + 1) * slot_size] for i in range(slot_count)]


def no_records(data):
    # Every slot zero but its sequence number.
    return all(not any(s[4:]) for s in slots(data))


def test_shared_file_publishes_only_found_entries_and_is_wiped(sqlite_population, tmp_path):
    pop = sqlite_population
    # Something typed at a login prompt that is not a user name: a password.
    secret = "Tr0ub4dor&3-" + secrets.token_hex(6)
    d = Daemon(BUILD, tmp_path / "d", pop.db_section, pop)
    with d:
        cache = d.socket.parent / "cache"
        with d.client() as c:
            assert c.pw_by_name(secret) == "NotFound"
            assert c.gr_by_name(secret) == "NotFound"
            assert c.groups_of_user(secret) == "NotFound"
            assert c.pw_by_name("user001")["uid"] == 200001
        # Through the NSS module too, as a program looking the name up does.
        nss = NssRunner(BUILD, d.socket, sanitize=SANITIZE)
        assert nss.getent("passwd", secret).returncode == 2
        assert nss.getent("passwd", "user001").returncode == 0
        # Every file beside the socket, read by any user and by root: the
        # found entry is there (the file is readable), the typed secret not.
        seen = read_as_nobody(d, secret, "user001")
        assert seen.get("cache") == (False, True), seen
        assert all(not has_secret for has_secret, _ in seen.values()), seen
        for p in files_under(d.sockdir):
            assert secret.encode() not in p.read_bytes(), p
        # The daemon's own mapping of the file is read-only between writes.
        maps = [line.split()[1] for line in pathlib.Path("/proc/%d/maps" % d.proc.pid).read_text().splitlines()
                if line.endswith(str(cache))]
        assert maps and all(m == "r--s" for m in maps), maps
        # The daemon still knows it is not found (its private cache answers).
        with d.client() as c:
            assert c.pw_by_name(secret) == "NotFound"
            st = c.stats()
            assert int(st["cache_hits"]) >= 1
        # Flush: the file holds no record at all.
        with d.client() as c:
            assert c.flush() == "Ok"
        data = cache.read_bytes()
        assert no_records(data) and b"user001" not in data
        # Filled again, then the daemon stops: a reader that kept the file
        # open finds nothing in it.
        with d.client() as c:
            assert c.pw_by_name("user002")["uid"] == 200002
        held = open(cache, "rb")
    try:
        assert not cache.exists()
        data = held.read()
        assert b"user002" not in data and secret.encode() not in data and no_records(data)
    finally:
        held.close()
    log = d.log_text()
    assert secret not in log


# --- timing of failures -------------------------------------------------------------------------

ITERATIONS = 150000


def make_hash(password, iterations):
    r = subprocess.run([str(AUTHCTL), "make-hash", "--algorithm", "pbkdf2_sha256", "--iterations", str(iterations)],
                       input=password, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def timing_database(source, dest, iterations=ITERATIONS):
    """A copy of the SQLite database `source` (4 active users or more whose
    names start with "user") with: `target` (active, pbkdf2 at `iterations`),
    `sleeper` (inactive), `locked` (an unusable '!' value), `old` (pbkdf2 at a
    third of `iterations`: a wrong password is topped up by harden_runtime).
    Returns their names. bench/failure_timing.py uses it too."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(dest)
    src.backup(dst)
    src.close()
    rows = dst.execute("select id, username from auth_user where is_active = 1 and username like 'user%' "
                       "order by id limit 4").fetchall()
    names = dict(zip(["target", "sleeper", "locked", "old"], rows))
    dst.execute("update auth_user set password = ? where id = ?", (make_hash("right-pw", iterations), names["target"][0]))
    dst.execute("update auth_user set password = ?, is_active = 0 where id = ?",
                (make_hash("right-pw", iterations), names["sleeper"][0]))
    dst.execute("update auth_user set password = ? where id = ?", ("!" + secrets.token_urlsafe(30), names["locked"][0]))
    dst.execute("update auth_user set password = ? where id = ?",
                (make_hash("right-pw", iterations // 3), names["old"][0]))
    dst.commit()
    dst.close()
    return {k: v[1] for k, v in names.items()}


# Every service open to every active user, but "closed" (nobody).
ACCESS = {"default": "*", "closed": ""}


def measure_failures(d, names, rounds):
    """What a failed Authenticate of each kind costs against a wrong
    password: per kind, the median over `rounds` rounds of its time over the
    wrong password's time in the same round (each round tries every kind
    once, in a rotating order, so that load on the machine, which comes and
    goes, falls on both sides of each ratio). Returns ({kind: ratio}, the
    wrong password's median seconds). bench/failure_timing.py uses it too."""
    # (user, service, expected answer); the daemon runs with ACCESS.
    kinds = {"wrong password": (names["target"], "login", "WrongPassword"),
             "unknown user": ("nobody-by-that-name", "login", "NoUser"),
             "inactive user": (names["sleeper"], "login", "NoUser"),
             "unusable '!' password": (names["locked"], "login", "WrongPassword"),
             "outdated hash, wrong password": (names["old"], "login", "WrongPassword"),
             "left out by [access]": (names["target"], "closed", "NoUser")}
    samples = {k: [] for k in kinds}
    with d.client(timeout=30) as c:
        for _ in range(2):   # warm up: connections, the database's pages
            for user, service, _ in kinds.values():
                c.authenticate(user, "not-it", service=service)
        for i in range(rounds):
            order = list(kinds.items())
            order = order[i % len(order):] + order[:i % len(order)]
            for kind, (user, service, expect) in order:
                # The right password for [access]: it must not show either.
                pw = "right-pw" if service == "closed" else "not-it-%d" % i
                t = time.perf_counter()
                assert c.authenticate(user, pw, service=service) == expect, kind
                samples[kind].append(time.perf_counter() - t)
    wrong = samples["wrong password"]
    ratios = {k: statistics.median(s / w for s, w in zip(v, wrong)) for k, v in samples.items()}
    return ratios, statistics.median(wrong)


def test_every_failure_costs_one_hash_of_the_same_work(sqlite_population, tmp_path):
    """CVE-2024-39329's class: an unknown user, an inactive one, an unusable
    password, a user the [access] rule leaves out (with the right password)
    and a wrong password must not be told apart by their timing."""
    names = timing_database(sqlite_population.db_section["name"], tmp_path / "timing.sqlite3")
    d = Daemon(BUILD, tmp_path / "d", {"engine": "sqlite3", "name": str(tmp_path / "timing.sqlite3")},
               passwords={"hashers": "pbkdf2_sha256, pbkdf2_sha1", "pbkdf2_iterations": ITERATIONS},
               access=ACCESS)
    with d:
        ratios, wrong = measure_failures(d, names, rounds=31)
    ratios = {k: round(v, 3) for k, v in ratios.items()}
    print("failure time / wrong password:", ratios, "wrong password: %.1f ms" % (wrong * 1000))
    assert wrong > 0.004, wrong   # the hash dominates the round trip
    for kind, ratio in ratios.items():
        assert 0.75 <= ratio <= 1.33, (kind, ratios)


# --- the daemon's memory -----------------------------------------------------------------

def test_daemon_is_not_dumpable(sqlite_population, tmp_path):
    """Run as an ordinary user (nobody), the daemon is still not dumpable:
    the same user cannot read its environment or memory, nor ptrace it, and
    it writes no core file."""
    pop = sqlite_population
    top = pathlib.Path(tempfile.mkdtemp(prefix="djauth-nodump-"))
    try:
        os.chmod(top, 0o755)
        db = top / "db.sqlite3"
        shutil.copyfile(pop.db_section["name"], db)
        os.chown(db, 65534, 65534)
        wrapper = top / "authd-as-nobody"
        wrapper.write_text("#!/bin/sh\nexec %s %s \"$@\"\n" % (" ".join(NOBODY), AUTHD))
        wrapper.chmod(0o755)
        d = Daemon(BUILD, top / "work", {"engine": "sqlite3", "name": str(db)}, pop, binary=wrapper)
        os.chmod(d.workdir, 0o755)
        os.chmod(d.config, 0o644)   # no secret in it; nobody must read it
        os.chown(d.sockdir, 65534, 65534)
        with d:
            pid = d.proc.pid
            status = pathlib.Path("/proc/%d/status" % pid).read_text()
            assert "\nUid:\t65534\t65534\t65534\t65534\n" in status, status
            # Not dumpable: /proc/PID/* belongs to root, not to the daemon's user.
            assert os.stat("/proc/%d/environ" % pid).st_uid == 0
            assert os.stat("/proc/%d/mem" % pid).st_uid == 0
            probe = r'''
import ctypes, errno, os, sys
pid = int(sys.argv[1])
out = []
for f in ("environ", "mem", "maps"):
    try:
        open("/proc/%d/%s" % (pid, f), "rb").read(1)
        out.append(f + "=read")
    except OSError as e:
        out.append(f + "=" + errno.errorcode[e.errno])
libc = ctypes.CDLL(None, use_errno=True)
rc = libc.ptrace(16, pid, None, None)   # PTRACE_ATTACH
out.append("ptrace=" + ("attached" if rc == 0 else errno.errorcode[ctypes.get_errno()]))
print(" ".join(out))
'''
            r = subprocess.run(NOBODY + ["/usr/bin/python3", "-c", probe, str(pid)], capture_output=True, text=True,
                               timeout=30)
            assert r.returncode == 0, r.stderr
            got = dict(x.split("=") for x in r.stdout.split())
            assert got["environ"] in ("EACCES", "EPERM") and got["mem"] in ("EACCES", "EPERM"), got
            assert got["ptrace"] == "EPERM", got
            limits = pathlib.Path("/proc/%d/limits" % pid).read_text()
            core = next(l for l in limits.splitlines() if l.startswith("Max core file size"))
            assert core.split()[4:6] == ["0", "0"], core
            with d.client() as c:
                assert c.pw_by_name("user001")["uid"] == 200001
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_root_daemon_writes_no_core(daemon_sqlite):
    limits = pathlib.Path("/proc/%d/limits" % daemon_sqlite.proc.pid).read_text()
    core = next(l for l in limits.splitlines() if l.startswith("Max core file size"))
    assert core.split()[4:6] == ["0", "0"], core


# --- secrets in files and on command lines ----------------------------------------------------------

def check_config(path):
    return subprocess.run([str(AUTHD), "--check-config", "--config", str(path)], capture_output=True, text=True,
                          timeout=30)


def test_password_file_readable_by_others_is_refused(tmp_path):
    secret = "db-" + secrets.token_hex(8)
    pw = tmp_path / "db-password"
    pw.write_text(secret + "\n")
    conf = write_config(tmp_path / "pf.conf", {"database": {"engine": "postgresql", "password_file": pw}})
    for mode, gid, ok, why in [(0o644, 0, False, "readable by others"), (0o604, 0, False, "readable by others"),
                               (0o640, 65534, False, "readable by group"), (0o640, 0, True, ""),
                               (0o600, 65534, True, ""), (0o400, 0, True, "")]:
        os.chown(pw, 0, gid)
        os.chmod(pw, mode)
        # No server behind these configurations: once the file is accepted,
        # the database is the only complaint.
        r = check_config(conf)
        assert ("cannot open or log in" in r.stdout) == ok, (oct(mode), gid, r.stdout + r.stderr)
        assert r.returncode != 0 and why in r.stderr and secret not in r.stderr + r.stdout, (oct(mode), r.stderr)
    # The daemon user's own group may read it.
    conf2 = write_config(tmp_path / "pf2.conf", {"database": {"engine": "postgresql", "password_file": pw},
                                                 "daemon": {"user": "nobody"}})
    os.chown(pw, 0, 65534)   # nobody's primary group is nogroup (65534)
    os.chmod(pw, 0o640)
    r = check_config(conf2)
    assert "password_file" not in r.stderr and "cannot open or log in" in r.stdout, r.stdout + r.stderr
    # A config file with the password in it is a secret too.
    conf3 = write_config(tmp_path / "inline.conf", {"database": {"engine": "postgresql", "password": secret}})
    os.chmod(conf3, 0o644)
    r = check_config(conf3)
    assert r.returncode != 0 and "readable by others" in r.stderr and secret not in r.stderr
    os.chmod(conf3, 0o600)
    r = check_config(conf3)
    assert "readable by" not in r.stderr and "cannot open or log in" in r.stdout and secret not in r.stdout


def test_check_hash_takes_the_hash_from_a_file_or_stdin(tmp_path):
    encoded = make_hash("correct horse", 1000)
    hf = tmp_path / "alice.hash"
    hf.write_text(encoded + "\n")
    pf = tmp_path / "alice.pw"
    pf.write_text("correct horse")
    run = lambda *a, **kw: subprocess.run([str(AUTHCTL), "check-hash", *a], capture_output=True, text=True,
                                          timeout=30, **kw)
    # Hash from a file, password on standard input: no hash on the command line.
    assert run("--hash-file", str(hf), input="correct horse").returncode == 0
    assert run("--hash-file", str(hf), input="wrong").returncode == 1
    # Hash on standard input, password from a file.
    assert run("--hash-file", "-", "--password-file", str(pf), input=encoded + "\n").returncode == 0
    pf.write_text("wrong")
    assert run("--hash-file", "-", "--password-file", str(pf), input=encoded).returncode == 1
    # Both from standard input cannot be: a usage error.
    r = run("--hash-file", "-", input=encoded + "\ncorrect horse")
    assert r.returncode == 2 and "--password-file" in r.stderr
    r = run("--hash-file", "-", "--password-file", "-", input=encoded)
    assert r.returncode == 2
    # ENCODED and --hash-file are exclusive; a missing file is named, its content never.
    r = run(encoded, "--hash-file", str(hf), input="correct horse")
    assert r.returncode == 2
    r = run("--hash-file", str(tmp_path / "missing"), input="x")
    assert r.returncode == 1 and "missing" in r.stderr
    # The old form still works.
    assert run(encoded, input="correct horse").returncode == 0


def test_modules_read_the_environment_with_secure_getenv(daemon_sqlite):
    """The PAM and NSS modules and the client library run inside setuid
    programs: every environment knob goes through secure_getenv."""
    offenders = []
    for folder in ("common", "nss", "pam"):
        for p in sorted((TOP / folder).glob("*.cc")) + sorted((TOP / folder).glob("*.h")):
            for n, line in enumerate(p.read_text().splitlines(), 1):
                code = line.split("//")[0]
                if "getenv(" in code and "secure_getenv(" not in code:
                    offenders.append("%s:%d: %s" % (p.relative_to(TOP), n, line.strip()))
    assert offenders == []
    # The knob still works in an ordinary process.
    nss = NssRunner(BUILD, daemon_sqlite.socket, sanitize=SANITIZE)
    assert nss.run(["getent", "passwd", "user001"]).returncode == 0
    assert nss.run(["getent", "passwd", "user001"], env_extra={"DJANGO_AUTH_NSS_LOOPS": "NO"}).returncode == 2
