"""Helpers for the pam_django.so tests: private PAM service directories,
runners for the two real-libpam drivers (tests/helpers/pam_harness through
pam_start_confdir, and pamtester through pam_wrapper), and a scripted
stand-in daemon speaking the wire protocol of common/protocol.h for the
return codes a real daemon rarely produces on demand (Throttled, Denied,
Disabled, silence)."""
import atexit
import os
import pathlib
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.parse

from conftest import BUILD, SANITIZE

MODULE = BUILD / "pam_django.so"
HARNESS = BUILD / "tests" / "pam_harness"
PAM_WRAPPER = "libpam_wrapper.so"
ASAN_LIBS = ["/usr/lib/x86_64-linux-gnu/libasan.so.8", "/usr/lib/x86_64-linux-gnu/libubsan.so.1"]

# pam_strerror texts pamtester prints.
STRERROR = {
    "PAM_SUCCESS": "successfully",
    "PAM_AUTH_ERR": "Authentication failure",
    "PAM_USER_UNKNOWN": "User not known to the underlying authentication module",
    "PAM_AUTHINFO_UNAVAIL": "Authentication service cannot retrieve authentication info",
    "PAM_PERM_DENIED": "Permission denied",
    "PAM_ACCT_EXPIRED": "User account has expired",
    "PAM_MAXTRIES": "Have exhausted maximum number of retries for service",
}


# --- service directories ---------------------------------------------------------

class ServiceDir:
    """A private PAM configuration directory: one file per service, module
    paths absolute, plus the `other` file pam_wrapper insists on."""

    def __init__(self, path=None):
        if path is None:
            path = tempfile.mkdtemp(prefix="djpam-")
            atexit.register(shutil.rmtree, path, True)
        self.path = pathlib.Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "other").write_text("auth required pam_deny.so\naccount required pam_deny.so\n"
                                         "password required pam_deny.so\nsession required pam_deny.so\n")

    def add(self, name, text):
        """`text` lines may say `pam_django.so`; it becomes the built module's path."""
        (self.path / name).write_text(text.replace("pam_django.so", str(MODULE)))
        return name

    def simple(self, name, socket_path, auth_args="", acct_args="", password_args="",
               common="nodelay timeout=2"):
        base = f"pam_django.so socket={socket_path} {common}"
        return self.add(name, f"auth required {base} {auth_args}\n"
                              f"account required {base} {acct_args}\n"
                              f"password required {base} {password_args}\n"
                              f"session required {base}\n")


# --- drivers -----------------------------------------------------------------------

def harness_env():
    env = dict(os.environ)
    if SANITIZE:
        # the harness is built sanitized too, so the runtime is already first;
        # libpam dlcloses the module at pam_end, leaving its leak reports
        # unsymbolized but still counted
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    return env


def harness(confdir, service, requests, ops="auth,acct", flags=None, rhost="192.0.2.10",
            chain=False, delay_fn=False, timeout=600, env=None, msgs=False):
    """Runs pam_harness over `requests` (list of (user, answer, ...) tuples);
    returns one dict per request: {user, auth, acct, ..., prompts, other_msgs, delay},
    and with `msgs` the list of message texts the modules sent as "msgs"."""
    cmd = [str(HARNESS), "--confdir", str(confdir), "--service", service, "--ops", ops,
           "--rhost", rhost]
    if flags is not None:
        cmd += ["--flags", flags]
    if chain:
        cmd.append("--chain")
    if delay_fn:
        cmd.append("--delay-fn")
    if msgs:
        cmd.append("--msgs")
    data = "".join("\t".join(r) + "\n" for r in requests)
    full_env = harness_env()
    full_env.update(env or {})
    p = subprocess.run(cmd, input=data, capture_output=True, text=True, timeout=timeout,
                       env=full_env)
    assert p.returncode == 0, (p.returncode, p.stderr)
    if SANITIZE:
        assert "ERROR: AddressSanitizer" not in p.stderr, p.stderr
        assert "runtime error" not in p.stderr, p.stderr
    out = []
    for line in p.stdout.splitlines():
        user, rest = line.split("\t", 1)
        d = {"user": user}
        for kv in rest.split():
            k, v = kv.split("=", 1)
            if k == "msgs":
                d[k] = [urllib.parse.unquote(m) for m in v.split("|")] if v else []
            elif k == "pam_user":
                d[k] = urllib.parse.unquote(v)
            else:
                d[k] = int(v) if k in ("prompts", "other_msgs", "delay") else v
        out.append(d)
    assert len(out) == len(requests), (p.stdout, p.stderr)
    return out


def harness1(confdir, service, user, *answers, **kw):
    return harness(confdir, service, [(user, *answers)], **kw)[0]


def pamtester(confdir, service, user, password, ops=("authenticate", "acct_mgmt"), items=None,
              timeout=120):
    """pamtester under pam_wrapper; the password (and any further answers,
    newline-separated) come on stdin. Returns CompletedProcess."""
    env = dict(os.environ)
    preload = [PAM_WRAPPER]
    if SANITIZE:
        preload = ASAN_LIBS + preload
        # pamtester's own allocations are not ours to judge
        env["ASAN_OPTIONS"] = "detect_leaks=0:halt_on_error=1"
    env.update(LD_PRELOAD=":".join(preload), PAM_WRAPPER="1",
               PAM_WRAPPER_SERVICE_DIR=str(confdir))
    cmd = ["pamtester", "-v"]
    for k, v in (items or {}).items():
        cmd += ["-I", f"{k}={v}"]
    cmd += [service, user, *ops]
    p = subprocess.run(cmd, input=password + "\n", capture_output=True, text=True,
                       timeout=timeout, env=env)
    if SANITIZE:
        assert "ERROR: AddressSanitizer" not in p.stderr, p.stderr
        assert "runtime error" not in p.stderr, p.stderr
    return p


# --- a scripted stand-in daemon -------------------------------------------------------

from djproto import OP as OPS, STATUS as ST, Reader as _Cursor, _str as _s, _u32 as _u32


class FakeDaemon:
    """Answers Authenticate, Account and ChangePassword from `script`:
    script[(op_name, user)] = status name (or "silent": never answer), with
    script[(op_name, None)] as the default. Authenticate's default: Ok when
    the password is `password`, WrongPassword otherwise. Every decoded
    request is appended to `requests` as a dict."""

    def __init__(self, password="right-password"):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="djfake-"))
        self.path = str(self.dir / "socket")
        self.password = password
        self.script = {}
        self.text = {}          # (op_name, user) -> reason/message text
        self.requests = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self._sock.listen(64)
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def stop(self):
        self._stop = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._thread.join(timeout=5)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _serve(self):
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(conn,), daemon=True).start()

    @staticmethod
    def _read(conn, n):
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def _conn(self, conn):
        with conn:
            while True:
                head = self._read(conn, 4)
                if head is None:
                    return
                body = self._read(conn, struct.unpack(">I", head)[0])
                if body is None:
                    return
                reply = self._answer(body)
                if reply is None:       # silent: hold the connection, say nothing
                    time.sleep(30)
                    return
                conn.sendall(reply)

    def _answer(self, body):
        op = body[1]
        c = _Cursor(body[4:])
        req = {"op": op}
        if op == OPS["Authenticate"]:
            req.update(name="Authenticate", user=c.str(), password=c.str(), service=c.str(),
                       rhost=c.str())
        elif op == OPS["Account"]:
            req.update(name="Account", user=c.str(), groups=c.strs(), flags=c.u32(),
                       permissions=c.strs())
        elif op == OPS["ChangePassword"]:
            req.update(name="ChangePassword", user=c.str(), old=c.str(), new=c.str(),
                       flags=c.u32())
        else:
            return self._frame(op, ST["BadRequest"])
        self.requests.append(req)
        key = (req["name"], req["user"])
        status = self.script.get(key, self.script.get((req["name"], None)))
        if status is None:
            if req["name"] == "Authenticate":
                status = "Ok" if req["password"] == self.password else "WrongPassword"
            elif req["name"] == "ChangePassword":
                status = "Ok" if req["old"] == self.password else "WrongPassword"
            else:
                status = "Ok"
        if status == "silent":
            return None
        text = self.text.get(key, self.text.get((req["name"], None), ""))
        payload = b"" if req["name"] == "Authenticate" else _s(text)
        return self._frame(op, ST[status], payload)

    @staticmethod
    def _frame(op, status, payload=b""):
        p = bytes([2, op, status, 0]) + payload
        return _u32(len(p)) + p

    def of(self, name):
        return [r for r in self.requests if r["name"] == name]


# --- what the module logs ---------------------------------------------------------------

_SYSLOG_RUNNER = r'''
import json, os, socket, subprocess, sys, tempfile
args = json.loads(sys.argv[1])
stage = tempfile.mkdtemp(prefix="djlog-")
olddev = os.path.join(stage, "dev")
os.mkdir(olddev)
def sh(*c):
    subprocess.run(list(c), check=True)
# /dev of our own (this mount namespace only), with a /dev/log we listen on
sh("mount", "--bind", "/dev", olddev)
sh("mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", "/dev")
for n in ("null", "zero", "urandom", "random", "full", "tty"):
    open("/dev/" + n, "w").close()
    sh("mount", "--bind", os.path.join(olddev, n), "/dev/" + n)
os.symlink("/proc/self/fd", "/dev/fd")
for i, n in enumerate(("stdin", "stdout", "stderr")):
    os.symlink("/proc/self/fd/%d" % i, "/dev/" + n)
log = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
log.bind("/dev/log")
os.chmod("/dev/log", 0o666)
p = subprocess.run(args["cmd"], input=args["input"], capture_output=True, text=True,
                   env=args["env"], timeout=300)
lines = []
log.settimeout(0.3)
while True:
    try:
        lines.append(log.recv(65536).decode("utf-8", "replace"))
    except socket.timeout:
        break
subprocess.run(["umount", "-l", olddev])
import shutil
shutil.rmtree(stage, ignore_errors=True)
print(json.dumps(dict(rc=p.returncode, stdout=p.stdout, stderr=p.stderr, log=lines)))
'''


def run_with_syslog(cmd, input_text="", env=None):
    """Runs `cmd` in a private mount namespace whose /dev/log is a socket we
    read: returns (CompletedProcess-like dict, [syslog lines]). The host's
    /dev is untouched."""
    import json
    args = dict(cmd=[str(c) for c in cmd], input=input_text, env=env or harness_env())
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "/usr/bin/python3", "-c",
                        _SYSLOG_RUNNER, json.dumps(args)], capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    return out, out["log"]


def harness_syslog(confdir, service, requests, ops="auth,acct", rhost="192.0.2.10"):
    """pam_harness with its syslog captured: (harness stdout, [log lines])."""
    cmd = [HARNESS, "--confdir", confdir, "--service", service, "--ops", ops, "--rhost", rhost]
    data = "".join("\t".join(r) + "\n" for r in requests)
    out, log = run_with_syslog(cmd, data)
    assert out["rc"] == 0, out
    return out["stdout"], log
