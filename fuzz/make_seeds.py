#!/usr/bin/python3
"""Writes the seed corpora in fuzz/corpus/<harness>/ (kept in the tree; run
again after a protocol change). Frames are built the way the clients build
them (tests/integration/djproto.py), without the u32 length prefix."""
import hashlib
import os
import struct
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import djproto as P  # noqa: E402


def body(op, payload=b"", status=0, version=P.VERSION):
    return P.frame(op, payload, version=version, status=status)[4:]


def s(x):
    return P._str(x)


def u(v):
    return P._u32(v)


def lst(items):
    return P._list(items)


def write(harness, blobs):
    d = os.path.join(TOP, "fuzz", "corpus", harness)
    os.makedirs(d, exist_ok=True)
    for b in blobs:
        name = hashlib.sha1(b).hexdigest()[:16]
        with open(os.path.join(d, name), "wb") as f:
            f.write(b)


def op(name):
    return P.OP["".join(w.capitalize() for w in name.split("_"))]


def requests():
    reqs = [
        (op("hello"), b""),
        (op("authenticate"), s("alice") + s("pw") + s("login") + s("")),
        (op("authenticate"), s("alice") + s("wrong") + s("sshd") + s("203.0.113.9")),
        (op("authenticate"), s("nobody") + s("pw") + s("login") + s("")),
        (op("authenticate"), s("bob") + s("pw") + s("login") + s("")),
        (op("account"), s("alice") + lst([b"devs"]) + u(1) + lst([b"auth.add_user"]) + s("sshd")),
        (op("account"), s("root") + lst([]) + u(0) + lst([]) + s("")),
        (op("change_password"), s("alice") + s("pw") + s("new-pw-123") + u(0) + s("passwd")),
        (op("change_password"), s("alice") + s("pw") + s("") + u(1) + s("passwd")),
        (op("gr_by_name"), s("sudo")),
        (op("pw_by_name"), s("alice")),
        (op("pw_by_name"), s("bad:name")),
        (op("pw_by_uid"), u(200001)),
        (op("pw_list"), u(0) + u(100)),
        (op("gr_by_name"), s("devs")),
        (op("gr_by_gid"), u(200001)),
        (op("gr_list"), u(0) + u(2)),
        (op("groups_of_user"), s("alice")),
        (op("flush"), b""),
        (op("stats"), b""),
        (op("throttle_list"), s("")),
        (op("throttle_list"), s("alice")),
        (op("throttle_reset"), s("user") + s("alice")),
        (op("throttle_reset"), s("client") + s("uid=33")),
    ]
    out = []
    for caller in (0, 1, 2):
        for o, p in reqs:
            out.append(bytes([caller]) + body(o, p))
    out.append(bytes([0]) + body(op("hello"), b"", version=9))
    out.append(bytes([0]) + body(op("pw_by_name"), s("alice") + b"junk"))
    out.append(bytes([0]) + body(op("pw_by_name"), struct.pack(">I", 0xFFFFFFFF)))
    return out


def passwd(name, uid, gid, gecos, d, sh):
    return s(name) + u(uid) + u(gid) + s(gecos) + s(d) + s(sh)


def group(name, gid, members):
    return s(name) + u(gid) + lst([m.encode() for m in members])


def responses():
    pw = passwd("alice", 200001, 100, "Alice A", "/home/alice", "/bin/bash")
    gr = group("devs", 200001, ["alice", "bob", "carol"])
    out = [
        bytes([0]) + body(op("pw_by_name"), pw),
        bytes([0]) + body(op("pw_by_name"), b"", status=1),
        bytes([1]) + body(op("gr_by_name"), gr),
        bytes([1]) + body(op("gr_by_name"), group("empty", 200004, [])),
        bytes([2]) + body(op("pw_list"), u(2) + pw + passwd("", 0, 0, "", "", "") + u(1)),
        bytes([3]) + body(op("gr_list"), u(1) + gr + u(0)),
        bytes([4]) + body(op("groups_of_user"), u(3) + u(200001) + u(100) + u(200001)),
        bytes([5]) + body(op("hello"), s("django-authd 0.1.0") + u(1)),
        bytes([6]) + body(op("stats"), lst([b"a", b"b"])),
    ]
    return out


def config():
    with open(os.path.join(TOP, "config", "django-auth.conf"), "rb") as f:
        full = f.read()
    return [
        full,
        b"[database]\nengine = postgresql\nname = site\nhost = 127.0.0.1,127.0.0.2\nport = 5432,5433\n"
        b"user = django\npassword = s3cret\nquery_timeout = 2\n",
        b"[database]\nengine = sqlite3\nname = /srv/db.sqlite3\n[schema]\nuser_table = accounts_user\n"
        b"user_is_staff =\n",
        b"[daemon]\nauth_clients = www-data, @ssl-cert\nmax_connections = 10\nidle_timeout = 1\n",
        b"[passwords]\nhashers = argon2, pbkdf2_sha256\npbkdf2_iterations = 1000\nallow_change = yes\n",
        b"[nss]\nuid_base = 100000\nhome = /home/%u/%U/%i/%%\nprimary_group = users\n",
        b"[cache]\npositive_ttl = 0\nmax_entries = 1\n",
        b"[access]\ndefault =\nsshd = ssh-users, admins\ndjango-web = *\n[nss]\nreserved_groups = ops\n"
        b"passwd_file = /etc/passwd\ngroup_prefix = dj-\n",
        b"[throttle]\ndeny = 3\nclient_deny = 0\nfail_interval = 60\nunlock_time = 0\nmax_entries = 5\n"
        b"[daemon]\ndebug = yes\n",
    ]


def hashers():
    vals = [
        ("pw", "pbkdf2_sha256$1000$salt$hIR0NvmhT27jWQnJSsFeEPa4VaBjZeFpDVlGhZCOKdQ="),
        ("pw", "pbkdf2_sha1$1000$salt$Ef8mGHF5C8tW/WNmTlaPqg3EDiY="),
        ("pw", "argon2$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$yF8KLlOFsIp5b2CNBSmLhQ"),
        ("pw", "bcrypt_sha256$$2b$04$abcdefghijklmnopqrstuuN2ZXLBJz2u5q3QWpxl8Lqz6IHCcSkYK"),
        ("pw", "bcrypt$$2b$04$abcdefghijklmnopqrstuuN2ZXLBJz2u5q3QWpxl8Lqz6IHCcSkYK"),
        ("pw", "scrypt$16$salt$1$1$Hr8wHFOTWRf1l4V1T4b3DOyFzsyn3PeUpV0OyA0ME9Y="),
        ("pw", "sha1$salt$0e5b8a0c1d4bd3e8c24a2f2f9b6b9a1a3a7c2b1e"),
        ("pw", "md5$salt$0123456789abcdef0123456789abcdef"),
        ("pw", "unsalted_md5$$5f4dcc3b5aa765d61d8327deb882cf99"),
        ("pw", "5f4dcc3b5aa765d61d8327deb882cf99"),
        ("pw", "sha1$$5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8"),
        ("pw", "crypt$$abN0ZRg5e6pns"),
        ("pw", "!unusable"),
        ("", ""),
        ("pw", "pbkdf2_sha256$999999999$salt$x"),
        ("pw", "argon2$argon2i$v=19$m=1048576,t=100,p=64$c2FsdA$aGFzaA"),
        ("pw", "scrypt$1048576$salt$8$64$aGFzaA=="),
    ]
    return [p.encode() + b"\0" + v.encode() for p, v in vals]


def nss_pack():
    out = []
    for mode in (0, 1, 0x10, 0x31, 0x71):
        out.append(bytes([mode]) + bytes([5]) + b"alice" + b"\0\3\r\101\0\0\0d" + bytes([7]) + b"Alice A"
                   + bytes([11]) + b"/home/alice" + bytes([9]) + b"/bin/bash" + bytes([3, 0, 1, 0, 2, 0, 1, 10, 2]))
        out.append(bytes([mode, 4]) + b"devs" + b"\0\3\r\101" + bytes([3, 5]) + b"alice" + bytes([3]) + b"bob"
                   + bytes([0]) + bytes([4, 0, 7, 0, 9, 0, 9, 0, 10, 3, 1]))
    return out


write("fuzz_request", requests())
write("fuzz_response", responses())
write("fuzz_config", config())
write("fuzz_hashers", hashers())
write("fuzz_nss_pack", nss_pack())
