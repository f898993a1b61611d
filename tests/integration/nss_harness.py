"""Helpers for the NSS tests: the wire protocol (common/protocol.h) in
Python, a scripted stand-in daemon for contract tests that need exact control
(request counts, silence, malformed replies), and a runner that executes real
programs against real glibc NSS in a private mount namespace whose
/etc/nsswitch.conf lists `django`.

The real /etc is never touched: `unshare -m` gives the command its own mount
table, where a test nsswitch.conf is bind-mounted over /etc/nsswitch.conf.
glibc dlopens libnss_django.so.2 by name, so LD_LIBRARY_PATH=BUILD finds it.
"""
import os
import pathlib
import shlex
import socket
import struct
import subprocess
import tempfile
import threading
import time

from djproto import OP as OPS, STATUS as ST, VERSION, Reader as Cursor, _str as s, _u32 as u32
from djproto import frame as _frame

OP_NAMES = {v: k for k, v in OPS.items()}

NSSWITCH = "passwd: files django\ngroup: files django\nshadow: files\n"
ASAN_LIBS = ["/usr/lib/x86_64-linux-gnu/libasan.so.8", "/usr/lib/x86_64-linux-gnu/libubsan.so.1"]


# --- protocol ------------------------------------------------------------------

def passwd_rec(name, uid, gid, gecos="", home="/", shell="/bin/sh"):
    return s(name) + u32(uid) + u32(gid) + s(gecos) + s(home) + s(shell)


def group_rec(name, gid, members=()):
    return s(name) + u32(gid) + u32(len(members)) + b"".join(s(m) for m in members)


def frame(op, status=0, body=b""):
    return _frame(op, body, status=status)


def recv_exact(conn, n):
    out = b""
    while len(out) < n:
        chunk = conn.recv(n - len(out))
        if not chunk:
            raise EOFError
        out += chunk
    return out


def request(sock_path, op, body=b"", timeout=5):
    """One request to a daemon; returns (status, body bytes)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(timeout)
        c.connect(str(sock_path))
        c.sendall(frame(op, 0, body))
        n = struct.unpack(">I", recv_exact(c, 4))[0]
        data = recv_exact(c, n)
        return data[2], data[4:]


def daemon_stats(sock_path):
    """Op::Stats as a dict (values as strings)."""
    status, body = request(sock_path, OPS["Stats"])
    if status != 0:
        return {}
    text = Cursor(body).str()
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        out[k] = v.strip()
    return out


# --- a scripted stand-in daemon ---------------------------------------------------

class FakeDaemon:
    """Answers NSS ops from fixed tables. `mode`: "ok"; "silent" (accepts and
    never answers); "garbage" (a frame of the wrong op); "huge" (a length
    beyond kMaxResponse); "close" (closes at once)."""

    def __init__(self, directory, users=(), groups=(), memberships=None):
        self.path = str(pathlib.Path(directory) / "socket")
        self.users = list(users)    # (name, uid, gid, gecos, home, shell)
        self.groups = list(groups)  # (name, gid, [members])
        self.memberships = memberships or {}  # user -> [gids]
        self.mode = "ok"
        self.counts = {}
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self.sock.listen(64)
        self.stopping = False
        self.conns = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def count(self, op):
        with self.lock:
            return self.counts.get(op, 0)

    def reset_counts(self):
        with self.lock:
            self.counts.clear()

    def close(self):
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        if self.mode == "silent":
            self.conns.append(conn)   # keep it open, never answer
            return
        try:
            with conn:
                while True:
                    n = struct.unpack(">I", recv_exact(conn, 4))[0]
                    data = recv_exact(conn, n)
                    op = data[1]
                    with self.lock:
                        self.counts[OP_NAMES.get(op, op)] = self.counts.get(OP_NAMES.get(op, op), 0) + 1
                    if self.mode == "close":
                        return
                    if self.mode == "garbage":
                        conn.sendall(frame(OPS["Hello"] if op != OPS["Hello"] else OPS["Stats"], 0, b""))
                        continue
                    if self.mode == "huge":
                        conn.sendall(u32(16 * 1024 * 1024 + 1) + bytes([VERSION, op, 0, 0]))
                        return
                    conn.sendall(self._answer(op, Cursor(data[4:])))
        except (EOFError, OSError):
            return

    def _pw(self, u):
        return passwd_rec(*u)

    def _answer(self, op, cur):
        nf = frame(op, ST["NotFound"])
        if op == OPS["PwByName"]:
            name = cur.str()
            u = next((u for u in self.users if u[0] == name), None)
            return frame(op, 0, self._pw(u)) if u else nf
        if op == OPS["PwByUid"]:
            uid = cur.u32()
            u = next((u for u in self.users if u[1] == uid), None)
            return frame(op, 0, self._pw(u)) if u else nf
        if op == OPS["GrByName"]:
            name = cur.str()
            g = next((g for g in self.groups if g[0] == name), None)
            return frame(op, 0, group_rec(*g)) if g else nf
        if op == OPS["GrByGid"]:
            gid = cur.u32()
            g = next((g for g in self.groups if g[1] == gid), None)
            return frame(op, 0, group_rec(*g)) if g else nf
        if op == OPS["GroupsOfUser"]:
            name = cur.str()
            if not any(u[0] == name for u in self.users):
                return nf
            gids = self.memberships.get(name, [])
            return frame(op, 0, u32(len(gids)) + b"".join(u32(g) for g in gids))
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
            return frame(op, 0, u32(len(recs)) + b"".join(recs) + u32(more))
        return frame(op, ST["BadRequest"])


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
        inner = "mount --bind %s /etc/nsswitch.conf && exec \"$@\"" % shlex.quote(str(self.nsswitch))
        cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", inner, "sh"] + [str(a) for a in argv]
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
        inner = "mount --bind %s /etc/nsswitch.conf && %s" % (shlex.quote(str(self.nsswitch)), text)
        t0 = time.monotonic()
        p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", inner],
                           env=env, capture_output=True, text=True, timeout=timeout)
        p.elapsed = time.monotonic() - t0
        return p

    def getent(self, *args, **kw):
        return self.run(["getent"] + list(args), **kw)

    def probe(self, *args, **kw):
        kw.setdefault("host_sanitized", True)
        return self.run([self.build / "tests" / "nss_probe"] + list(args), **kw)
