"""Helpers for the NSS tests: a scripted stand-in daemon for contract tests that need exact control
(request counts, silence, malformed replies), and a runner that executes real
programs against real glibc NSS in a private mount namespace whose
/etc/nsswitch.conf lists `django`.

The real /etc is never touched: each command gets a mount namespace of its
own (mountns.private_argv), where a test nsswitch.conf is bind-mounted over
/etc/nsswitch.conf.
glibc dlopens libnss_django.so.2 by name, so LD_LIBRARY_PATH=BUILD finds it.
"""
import os
import pathlib
import shlex
import subprocess
import tempfile
import time

import fakedaemon
from djproto import OP as OPS, STATUS as ST, Reader as Cursor, frame, group_rec, oversized, passwd_rec, _u32 as u32
from mountns import private_argv
from sysarch import ASAN_LIBS

NSSWITCH = "passwd: files django\ngroup: files django\nshadow: files\n"


# --- a scripted stand-in daemon ---------------------------------------------------

class FakeDaemon(fakedaemon.FakeDaemon):
    """Answers NSS ops from fixed tables. `mode`: "ok"; "silent" (accepts and
    never answers); "garbage" (a frame of the wrong op); "huge" (a length
    beyond kMaxResponse); "close" (closes at once)."""

    def __init__(self, directory, users=(), groups=(), memberships=None):
        self.users = list(users)    # (name, uid, gid, gecos, home, shell)
        self.groups = list(groups)  # (name, gid, [members])
        self.memberships = memberships or {}  # user -> [gids]
        self.mode = "ok"
        super().__init__(directory)

    def on_connect(self, conn):
        return self.mode != "silent"   # silent: keep it open, never answer

    def answer(self, op, payload):
        if self.mode == "close":
            return None
        if self.mode == "garbage":
            return frame(OPS["Hello"] if op != OPS["Hello"] else OPS["Stats"])
        if self.mode == "huge":
            return fakedaemon.Last(oversized(op, 16 * 1024 * 1024 + 1))
        return self._answer(op, Cursor(payload[4:]))

    def _pw(self, u):
        return passwd_rec(*u)

    def _answer(self, op, cur):
        nf = frame(op, status=ST["NotFound"])
        if op == OPS["PwByName"]:
            name = cur.str()
            u = next((u for u in self.users if u[0] == name), None)
            return frame(op, self._pw(u)) if u else nf
        if op == OPS["PwByUid"]:
            uid = cur.u32()
            u = next((u for u in self.users if u[1] == uid), None)
            return frame(op, self._pw(u)) if u else nf
        if op == OPS["GrByName"]:
            name = cur.str()
            g = next((g for g in self.groups if g[0] == name), None)
            return frame(op, group_rec(*g)) if g else nf
        if op == OPS["GrByGid"]:
            gid = cur.u32()
            g = next((g for g in self.groups if g[1] == gid), None)
            return frame(op, group_rec(*g)) if g else nf
        if op == OPS["GroupsOfUser"]:
            name = cur.str()
            if not any(u[0] == name for u in self.users):
                return nf
            gids = self.memberships.get(name, [])
            return frame(op, u32(len(gids)) + b"".join(u32(g) for g in gids))
        if op in (OPS["PwList"], OPS["GrList"]):
            after, limit = cur.u32(), cur.u32()
            limit = min(limit, 7)   # small pages, to exercise paging
            if op == OPS["PwList"]:
                items = sorted((u for u in self.users if u[1] > after), key=lambda u: u[1])
                recs = [self._pw(u) for u in items[:limit]]
            else:
                items = sorted((g for g in self.groups if g[1] > after), key=lambda g: g[1])
                recs = [group_rec(*g) for g in items[:limit]]
            more = 1 if len(items) > limit else 0
            return frame(op, u32(len(recs)) + b"".join(recs) + u32(more))
        return frame(op, status=ST["BadRequest"])


# --- running programs against real glibc NSS -------------------------------------

class NssRunner:
    """Runs commands in a private mount namespace with a test nsswitch.conf."""

    def __init__(self, build, socket_path, sanitize=False, nsswitch=NSSWITCH):
        self.build = pathlib.Path(build)
        self.socket_path = str(socket_path)
        self.sanitize = sanitize
        self._tmp = tempfile.TemporaryDirectory(prefix="dj-nss-")   # removed with the runner
        self.dir = self._tmp.name
        self.nsswitch = pathlib.Path(self.dir) / "nsswitch.conf"
        self.nsswitch.write_text(nsswitch)
        self.bind = "mount --bind %s /etc/nsswitch.conf" % shlex.quote(str(self.nsswitch))

    def env(self, host_sanitized=False):
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = str(self.build)
        env["DJANGO_AUTH_SOCKET"] = self.socket_path
        env.pop("DJANGO_AUTH_NSS_LOOPS", None)
        if self.sanitize and not host_sanitized:
            # A sanitized module inside an unsanitized program (getent, id)
            # needs the sanitizer runtime loaded first; such programs do not
            # free everything at exit, so leak checking is for nss_probe only
            # (the last setting of an option wins).
            env["LD_PRELOAD"] = ":".join(p for p in ASAN_LIBS if os.path.exists(p))
            opts = env.get("ASAN_OPTIONS", "")
            env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "halt_on_error=1:detect_leaks=0"
        return env

    def run(self, argv, timeout=60, env_extra=None, host_sanitized=False, check=False):
        env = self.env(host_sanitized)
        env.update(env_extra or {})
        cmd = private_argv(argv, self.bind)
        t0 = time.monotonic()
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        p.elapsed = time.monotonic() - t0
        if check and p.returncode != 0:
            raise AssertionError("%s failed (%d): %s %s" % (argv, p.returncode, p.stdout, p.stderr))
        return p

    def script(self, text, timeout=60, env_extra=None, host_sanitized=False):
        """Runs a shell script in the namespace (after the nsswitch.conf bind)."""
        env = self.env(host_sanitized)
        env.update(env_extra or {})
        t0 = time.monotonic()
        p = subprocess.run(private_argv(["sh", "-c", text], self.bind),
                           env=env, capture_output=True, text=True, timeout=timeout)
        p.elapsed = time.monotonic() - t0
        return p

    def getent(self, *args, **kw):
        return self.run(["getent"] + list(args), **kw)

    def probe(self, *args, **kw):
        kw.setdefault("host_sanitized", True)
        return self.run([self.build / "tests" / "nss_probe"] + list(args), **kw)
