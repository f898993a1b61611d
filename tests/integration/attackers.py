"""Unprivileged local users attacking django-authd, for tests and benchmarks.

Each attacker is a child /usr/bin/python3 run as another uid (setpriv); it
prints one JSON object when done. Frames are built by the caller (djproto)
and passed as hex, so the attackers speak whatever version the tests do;
FLOOD reads the answers with djproto's split_frames.

    spawn(uid, SCRIPT, *args)   Popen of SCRIPT as uid (a name, or a number
                                with a group of the same number)
    result(proc)                its JSON answer (after it exits)
    DRIP   path n seconds frame every
           holds n connections, each sending one byte of `frame` every
           `every` seconds and never all of it; reconnects those the daemon
           closes. Reports how many it made, how many the daemon closed at once
           (refused: within `fast` s), how many later (their longest life).
    FLOOD  path n seconds frame
           n connections, each sending `frame` again as soon as the previous
           answer is in; counts the answers by status byte.
    STORM  path seconds
           connects and closes at once, as fast as it can.
    socket_fds(pid)             sockets the daemon holds (listening, clients,
                                database)
    RootLogins(daemon, users)   a thread: root's uncached lookups and logins
                                meanwhile, timed
"""
import json
import os
import subprocess
import threading
import time

import djproto
from fixtures_daemon import UID_BASE, setpriv

DRIP = r'''
import json, resource, select, socket, sys, time
path, n, seconds, frame, every = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), bytes.fromhex(sys.argv[4]), float(sys.argv[5])
fast = float(sys.argv[6]) if len(sys.argv) > 6 else 1.0
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
conns = {}
out = dict(made=0, refused=0, closed_later=0, longest_life=0.0, connect_errors=0)
def connect():
    s = socket.socket(socket.AF_UNIX)
    s.setblocking(False)
    try:
        s.connect(path)
        s.send(frame[:1])
    except OSError:
        out["connect_errors"] += 1
        s.close()
        return False
    out["made"] += 1
    conns[s.fileno()] = [s, 1, time.monotonic()]
    return True
end = time.monotonic() + seconds
next_drip = time.monotonic() + every
while time.monotonic() < end:
    for _ in range(n - len(conns)):
        if not connect():
            break
    p = select.poll()
    for fd in conns:
        p.register(fd, select.POLLIN)
    for fd, ev in p.poll(50):
        s, sent, t0 = conns[fd]
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if data:
            continue
        life = time.monotonic() - t0
        if life < fast:
            out["refused"] += 1
        else:
            out["closed_later"] += 1
            out["longest_life"] = max(out["longest_life"], life)
        del conns[fd]
        s.close()
    if time.monotonic() >= next_drip:
        next_drip += every
        for c in conns.values():
            if c[1] < len(frame) - 1:
                try:
                    c[0].send(frame[c[1]:c[1] + 1])
                    c[1] += 1
                except OSError:
                    pass
out["open_at_end"] = len(conns)
print(json.dumps(out))
'''

FLOOD = djproto.source() + r'''
import json, resource, selectors, socket, sys, time
path, n, seconds, frame = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), bytes.fromhex(sys.argv[4])
sel = selectors.DefaultSelector()
counts, errors = {}, 0
def open_one():
    global errors
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        s.sendall(frame)
    except OSError:
        errors += 1
        s.close()
        return
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, bytearray())
for _ in range(n):
    open_one()
end = time.monotonic() + seconds
while time.monotonic() < end:
    for key, _ in sel.select(0.2):
        s, buf = key.fileobj, key.data
        try:
            data = s.recv(65536)
        except BlockingIOError:
            continue
        except OSError:
            data = b""
        if not data:
            sel.unregister(s)
            s.close()
            errors += 1
            open_one()
            continue
        buf += data
        for payload in split_frames(buf):
            st = payload[2]
            counts[st] = counts.get(st, 0) + 1
            try:
                s.sendall(frame)
            except OSError:
                pass
print(json.dumps(dict(counts={str(k): v for k, v in counts.items()}, errors=errors)))
'''

STORM = r'''
import json, socket, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
made = errors = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        made += 1
    except OSError:
        errors += 1
    s.close()
print(json.dumps(dict(made=made, errors=errors)))
'''


def spawn(uid, script, *args):
    return subprocess.Popen(setpriv(uid) + ["/usr/bin/python3", "-c", script,
                             *[str(a) for a in args]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result(proc, timeout=120):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return json.loads(out)


def socket_fds(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


def client(d, timeout=20):
    """A connection as the PAM and NSS modules make it (common/client.cc):
    a full listen backlog (EAGAIN) is retried every 5 ms within the
    deadline."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return d.client(timeout=timeout)
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


class RootLogins(threading.Thread):
    """Root, meanwhile: uncached lookups and logins, each on a new
    connection as the modules make them, until stopped; every answer must
    be right. Records the time each took."""

    def __init__(self, d, users):
        super().__init__()
        self.d, self.users = d, users
        self.stop = threading.Event()
        self.errors, self.lookup_s, self.login_s = [], [], []

    def run(self):
        i = 0
        while not self.stop.is_set():
            u = self.users[i % len(self.users)]
            exp = self.d.db.expected["users"][u["username"]]
            try:
                t = time.monotonic()
                with client(self.d) as c:
                    got = c.pw_by_uid(UID_BASE + exp["id"])
                self.lookup_s.append(time.monotonic() - t)
                if got == "NotFound" or got["name"] != u["username"]:
                    self.errors.append(("lookup", u["username"], got))
                t = time.monotonic()
                with client(self.d) as c:
                    st = c.authenticate(u["username"], u["password"])
                self.login_s.append(time.monotonic() - t)
                if st != "Ok":
                    self.errors.append(("login", u["username"], st))
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.errors.append(("exception", repr(e)))
            i += 1
            time.sleep(0.05)


def root_beside(d, users, attackers, meanwhile=None, timeout=300):
    """RootLogins against daemon `d` until every attacker has exited (calling
    meanwhile() every 0.2 s); returns it, stopped, and the attackers' results."""
    root = RootLogins(d, users)
    root.start()
    while any(a.poll() is None for a in attackers):
        if meanwhile:
            meanwhile()
        time.sleep(0.2)
    root.stop.set()
    root.join(timeout=timeout)
    return root, [result(a, timeout) for a in attackers]
