"""A small Python client for django-authd's wire protocol (common/protocol.h),
for tests. Frames: u32 length, then version, op, status, reserved, body;
integers big-endian; str = u32 length + bytes; list = u32 count + items.

Every test speaks the protocol through this module: the Client, the fake
daemons (fakedaemon.py), and the children run as other users (attackers.py,
fixtures_daemon.run_as), which get source(), this file's text, at the top of
their script."""
import pathlib
import socket
import struct

VERSION = 2

OP = dict(Hello=1, Authenticate=2, Account=3, ChangePassword=4, AuthenticateWithCode=5, PwByName=10, PwByUid=11,
          PwList=12, GrByName=20, GrByGid=21, GrList=22, GroupsOfUser=23, AuthorizedKeys=24, Flush=30, Stats=31,
          ThrottleList=32, ThrottleReset=33)
STATUS = dict(Ok=0, NotFound=1, WrongPassword=2, NoUser=3, Inactive=4, PermDenied=5,
              Unavailable=6, Denied=7, Disabled=8, BadRequest=9, BadVersion=10, Throttled=11,
              CodeRequired=12)
STATUS_NAME = {v: k for k, v in STATUS.items()}
REQUIRE_STAFF = 1
REQUIRE_SUPERUSER = 2
CHECK_ONLY = 1
OTP_IF_ENROLLED, OTP_REQUIRED, OTP_CONCAT = 1, 2, 4


def source():
    """This module's text, for Python children run as other users."""
    return pathlib.Path(__file__).read_text()


class ProtocolError(Exception):
    pass


def _str(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack(">I", len(s)) + s


def _u32(v):
    return struct.pack(">I", v)


def _list(items):
    return _u32(len(items)) + b"".join(_str(i) for i in items)


def frame(op, body=b"", version=VERSION, status=0):
    payload = bytes([version, OP[op] if isinstance(op, str) else op, status, 0]) + body
    return struct.pack(">I", len(payload)) + payload


def passwd_rec(name, uid, gid, gecos="", home="/", shell="/bin/sh"):
    return _str(name) + _u32(uid) + _u32(gid) + _str(gecos) + _str(home) + _str(shell)


def group_rec(name, gid, members=()):
    return _str(name) + _u32(gid) + _list(list(members))


def oversized(op, length, version=VERSION):
    """The header of a frame that claims `length` bytes of payload, and the
    payload's first four bytes: for the daemon's limits (send a prefix of
    it for a frame cut short)."""
    return _u32(length) + bytes([version, OP[op] if isinstance(op, str) else op, 0, 0])


def recv_exact(sock, n):
    """n bytes from sock; None when the peer closes first."""
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_frame(sock):
    """One frame's payload (version, op, status, reserved, body); None when
    the peer closes before a whole frame."""
    head = recv_exact(sock, 4)
    return None if head is None else recv_exact(sock, struct.unpack(">I", head)[0])


def split_frames(buf):
    """Removes every whole frame from the front of the bytearray buf and
    returns their payloads."""
    out = []
    while len(buf) >= 4 and len(buf) >= 4 + struct.unpack_from(">I", buf)[0]:
        n = struct.unpack_from(">I", buf)[0]
        out.append(bytes(buf[4:4 + n]))
        del buf[:4 + n]
    return out


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def u32(self):
        if self.pos + 4 > len(self.data):
            raise ProtocolError("short u32")
        (v,) = struct.unpack_from(">I", self.data, self.pos)
        self.pos += 4
        return v

    def str(self):
        n = self.u32()
        if self.pos + n > len(self.data):
            raise ProtocolError("short str")
        s = self.data[self.pos:self.pos + n]
        self.pos += n
        return s.decode("utf-8", "surrogateescape")

    def strs(self):
        return [self.str() for _ in range(self.u32())]

    def passwd(self):
        return dict(name=self.str(), uid=self.u32(), gid=self.u32(), gecos=self.str(),
                    dir=self.str(), shell=self.str())

    def group(self):
        return dict(name=self.str(), gid=self.u32(), members=self.strs())


class Client:
    """One connection; each call sends a request and reads its response."""

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def raw(self, data):
        """Sends bytes, returns (op, status, Reader over the body)."""
        self.sock.sendall(data)
        payload = read_frame(self.sock)
        if payload is None:
            raise ProtocolError("connection closed")
        if len(payload) < 4:
            raise ProtocolError("short frame")
        return payload[1], payload[2], Reader(payload[4:])

    def call(self, op, body=b""):
        rop, status, r = self.raw(frame(op, body))
        if rop != OP[op]:
            raise ProtocolError("response op %d for %s" % (rop, op))
        return STATUS_NAME.get(status, status), r

    # --- ops ---
    def hello(self):
        st, r = self.call("Hello")
        return st, (r.str(), r.u32()) if st == "Ok" else None

    def authenticate(self, user, password, service="test", rhost=""):
        return self.call("Authenticate", _str(user) + _str(password) + _str(service) + _str(rhost))[0]

    def authenticate_otp(self, user, password, otp, service="test", rhost=""):
        """Authenticate with the one-time code policy `otp` (OTP_* flags)."""
        return self.call("Authenticate", _str(user) + _str(password) + _str(service) + _str(rhost) + _u32(otp))[0]

    def authenticate_with_code(self, user, password, code, service="test", rhost=""):
        return self.call("AuthenticateWithCode",
                         _str(user) + _str(password) + _str(code) + _str(service) + _str(rhost))[0]

    def authenticate_locked_for(self, user, password, service="test", rhost=""):
        """(status, Throttled's seconds left: 0 busy, 0xFFFFFFFF until reset; None otherwise)"""
        st, r = self.call("Authenticate", _str(user) + _str(password) + _str(service) + _str(rhost))
        return st, (r.u32() if st == "Throttled" else None)

    def account(self, user, any_of=(), flags=0, perms=(), service="test"):
        st, r = self.call("Account", _str(user) + _list(list(any_of)) + _u32(flags) + _list(list(perms)) +
                          _str(service))
        reason = r.str() if st in ("Ok", "PermDenied", "Inactive", "NoUser") and r.pos < len(r.data) else ""
        return st, reason

    def change_password(self, user, old, new, flags=0, service="test"):
        return self.change_password_text(user, old, new, flags, service)[0]

    def change_password_text(self, user, old, new, flags=0, service="test"):
        """(status, the daemon's text: e.g. the validators' messages)"""
        st, r = self.call("ChangePassword", _str(user) + _str(old) + _str(new) + _u32(flags) + _str(service))
        return st, (r.str() if r.pos < len(r.data) else "")

    def pw_by_name(self, name):
        st, r = self.call("PwByName", _str(name))
        return r.passwd() if st == "Ok" else st

    def pw_by_uid(self, uid):
        st, r = self.call("PwByUid", _u32(uid))
        return r.passwd() if st == "Ok" else st

    def gr_by_name(self, name):
        st, r = self.call("GrByName", _str(name))
        return r.group() if st == "Ok" else st

    def gr_by_gid(self, gid):
        st, r = self.call("GrByGid", _u32(gid))
        return r.group() if st == "Ok" else st

    def groups_of_user(self, name):
        st, r = self.call("GroupsOfUser", _str(name))
        if st != "Ok":
            return st
        return [r.u32() for _ in range(r.u32())]

    def authorized_keys(self, name):
        """The key lines, or the status when it is not Ok."""
        st, r = self.call("AuthorizedKeys", _str(name))
        return r.strs() if st == "Ok" else st

    def pw_list(self, page=100):
        out, after = [], 0
        while True:
            st, r = self.call("PwList", _u32(after) + _u32(page))
            if st != "Ok":
                return st
            items = [r.passwd() for _ in range(r.u32())]
            more = r.u32()
            out += items
            if items:
                after = items[-1]["uid"]
            if not more:
                return out

    def gr_list(self, page=100):
        out, after = [], 0
        while True:
            st, r = self.call("GrList", _u32(after) + _u32(page))
            if st != "Ok":
                return st
            items = [r.group() for _ in range(r.u32())]
            more = r.u32()
            out += items
            if items:
                after = items[-1]["gid"]
            if not more:
                return out

    def flush(self):
        return self.call("Flush")[0]

    def stats(self):
        st, r = self.call("Stats")
        if st != "Ok":
            return st
        return dict(line.split(" ", 1) for line in r.str().splitlines() if " " in line)
