#!/usr/bin/python3
"""Generate tests/django/vectors.json: Django password hash test vectors with
the answers of real Django.

Run with Debian's /usr/bin/python3 (python3-django 3.2, python3-argon2,
python3-bcrypt), from anywhere:

    /usr/bin/python3 tests/django/make_vectors.py [OUTPUT]      (default: stdout)

Every value is made by Django itself (make_password / hasher.encode) or by the
libraries Django calls (argon2.low_level, crypt), then edited into malformed,
truncated and hostile variants. The expected answer of each vector is what
django.contrib.auth.hashers.check_password(password, encoded) returns with
every hasher enabled; an exception counts as False (PAM treats a value it
cannot parse as a wrong password).

Salts are fixed, so the output is reproducible byte for byte.

A few hostile values would make Django itself run for hours (bcrypt rounds 31,
argon2 t=2^31, SHA-crypt with 999,999,999 rounds); they are marked
"django": false and expected to fail without asking Django.
"""
import base64
import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ALL_HASHERS = ("pbkdf2_sha256,pbkdf2_sha1,argon2,bcrypt_sha256,scrypt,bcrypt,sha1,md5,"
               "unsalted_sha1,unsalted_md5,crypt")

os.environ["DJANGO_SETTINGS_MODULE"] = "settings"
os.environ["DJ_HASHERS"] = ALL_HASHERS
# Only must_update, harden_runtime and the dummy hash of unknown values use
# the class count; a small one keeps generation fast.
os.environ.setdefault("DJ_PBKDF2_ITERATIONS", "1000")
sys.path.insert(0, HERE)
warnings.simplefilter("ignore", DeprecationWarning)

import django  # noqa: E402

django.setup()

import argon2  # noqa: E402
import bcrypt  # noqa: E402
import crypt  # noqa: E402
from argon2.low_level import Type, hash_secret  # noqa: E402
from django.contrib.auth import hashers as H  # noqa: E402
from djtest.hashers import ScryptPasswordHasher  # noqa: E402
import vectorfile  # noqa: E402

PASSWORDS = [
    "",
    "password",
    "pässwörd ключ 🔑",
    "with $dollar: colon and space ",
    "x" * 5000,
    "tab\tnewline\n",
]
SALT = "Fx9kQ2mZr7TbW4yLp0NcVe"  # 22 chars, Django 3.2+ length
OLD_SALT = "abcdefABCDEF"          # 12 chars, Django <= 3.1 length

vectors = []


def django_check(password, encoded):
    try:
        return bool(H.check_password(password, encoded))
    except Exception:
        return False


def add(note, password, encoded, *, ask_django=True, expected=None):
    if ask_django:
        expected = django_check(password, encoded)
    vectors.append({"note": note, "password": password, "encoded": encoded,
                    "expected": bool(expected), "django": ask_django})


def right_and_wrong(note, password, encoded):
    add(note + ": right password", password, encoded)
    add(note + ": wrong password", password + "x", encoded)


def variants(note, password, encoded, edits):
    for what, value in edits:
        add("%s: %s" % (note, what), password, value)


def b64(b):
    return base64.b64encode(b).decode("ascii")


# --- pbkdf2 -------------------------------------------------------------------
pbkdf2 = H.PBKDF2PasswordHasher()
pbkdf2_sha1 = H.PBKDF2SHA1PasswordHasher()
for i, pw in enumerate(PASSWORDS):
    right_and_wrong("pbkdf2_sha256 1000 #%d" % i, pw, pbkdf2.encode(pw, SALT, 1000))
    right_and_wrong("pbkdf2_sha1 1000 #%d" % i, pw, pbkdf2_sha1.encode(pw, SALT, 1000))
right_and_wrong("pbkdf2_sha256 short salt", "password", pbkdf2.encode("password", OLD_SALT, 1))
right_and_wrong("pbkdf2_sha256 odd salt", "password", pbkdf2.encode("password", "sälz+/=:", 10))
right_and_wrong("pbkdf2_sha256 1200000 (Django 6.0 default)", "correct horse",
                pbkdf2.encode("correct horse", SALT, 1200000))
right_and_wrong("pbkdf2_sha256 260000 (Django 3.2 default)", "correct horse",
                pbkdf2.encode("correct horse", SALT, 260000))
good = pbkdf2.encode("password", SALT, 1000)
alg, it, salt, h = good.split("$")
variants("pbkdf2_sha256 malformed", "password", good, [
    ("iterations with leading zero", "$".join([alg, "01000", salt, h])),
    ("iterations with plus sign", "$".join([alg, "+1000", salt, h])),
    ("iterations with space", "$".join([alg, " 1000", salt, h])),
    ("iterations with underscore", "$".join([alg, "1_000", salt, h])),
    ("iterations zero", "$".join([alg, "0", salt, h])),
    ("iterations negative", "$".join([alg, "-1000", salt, h])),
    ("iterations 10^12", "$".join([alg, "1000000000000", salt, h])),
    ("iterations 2^64", "$".join([alg, "18446744073709551616", salt, h])),
    ("iterations not a number", "$".join([alg, "abc", salt, h])),
    ("empty salt", "$".join([alg, "1000", "", h])),
    ("unpadded base64", "$".join([alg, it, salt, h.rstrip("=")])),
    ("base64 without last char", good[:-1]),
    ("truncated by one char before padding", good[:-2] + "="),
    ("bad base64", "$".join([alg, it, salt, "!!!!" + h[4:]])),
    ("urlsafe base64", "$".join([alg, it, salt, h.replace("+", "-").replace("/", "_")])),
    ("dollar in hash", good + "$"),
    ("uppercase algorithm", "PBKDF2_SHA256" + good[len(alg):]),
    ("leading space", " " + good),
    ("trailing space", good + " "),
    ("trailing newline", good + "\n"),
    ("missing hash", "$".join([alg, it, salt])),
    ("algorithm only", alg),
    ("algorithm and dollar", alg + "$"),
    ("sha1 value under sha256 name", "pbkdf2_sha256" +
     pbkdf2_sha1.encode("password", SALT, 1000)[len("pbkdf2_sha1"):]),
])

# --- argon2 -------------------------------------------------------------------
def argon2_value(pw, salt=SALT, t=1, m=64, p=2, hash_len=16, type_=Type.ID, version=19):
    return "argon2" + hash_secret(pw.encode(), salt.encode(), time_cost=t, memory_cost=m,
                                  parallelism=p, hash_len=hash_len, type=type_,
                                  version=version).decode("ascii")


for i, pw in enumerate(PASSWORDS):
    right_and_wrong("argon2id t=1 m=64 p=2 #%d" % i, pw, argon2_value(pw))
for type_ in (Type.I, Type.D, Type.ID):
    for hash_len in (16, 32):
        right_and_wrong("argon2 %s hash_len %d" % (type_.name, hash_len), "pässwörd",
                        argon2_value("pässwörd", type_=type_, hash_len=hash_len))
    v10 = argon2_value("pässwörd", type_=type_, version=0x10)
    right_and_wrong("argon2 %s version 0x10 with v=16" % type_.name, "pässwörd", v10)
    right_and_wrong("argon2 %s version 0x10 without v=" % type_.name, "pässwörd",
                    v10.replace("$v=16", ""))
    right_and_wrong("argon2 %s version 0x13 with v= removed" % type_.name, "pässwörd",
                    argon2_value("pässwörd", type_=type_).replace("$v=19", ""))
right_and_wrong("argon2 Django 3.1 style (argon2i, 12-char salt, m=512 p=2 t=2)", "password",
                argon2_value("password", OLD_SALT, t=2, m=512, p=2, type_=Type.I))
right_and_wrong("argon2 Django 3.2+ defaults (argon2id m=102400 t=2 p=8, 32-byte tag)",
                "correct horse",
                argon2_value("correct horse", t=2, m=102400, p=8, hash_len=32))
good = argon2_value("password")
head, variety, ver, params, salt, h = good.split("$")
variants("argon2 malformed", "password", good, [
    ("truncated by one char", good[:-1]),
    ("hash with base64 padding", good + "=="),
    ("salt with base64 padding", "$".join([head, variety, ver, params, salt + "==", h])),
    ("bad base64 in salt", "$".join([head, variety, ver, params, "!!" + salt[2:], h])),
    ("non-zero trailing bits in hash", "$".join([head, variety, ver, params, salt,
                                                 h[:-1] + chr(ord(h[-1]) + 1)])),
    ("unknown variant", "$".join([head, "argon2x", ver, params, salt, h])),
    ("uppercase variant", "$".join([head, "Argon2id", ver, params, salt, h])),
    ("variant argon2i on an argon2id value", "$".join([head, "argon2i", ver, params, salt, h])),
    ("m with leading zero", "$".join([head, variety, ver, "m=064,t=1,p=2", salt, h])),
    ("parameters reordered", "$".join([head, variety, ver, "t=1,m=64,p=2", salt, h])),
    ("m=2^31", "$".join([head, variety, ver, "m=2147483648,t=1,p=2", salt, h])),
    ("m=2^32 (overflows uint32)", "$".join([head, variety, ver, "m=4294967296,t=1,p=2", salt, h])),
    ("p=0", "$".join([head, variety, ver, "m=64,t=1,p=0", salt, h])),
    ("p=2^24", "$".join([head, variety, ver, "m=64,t=1,p=16777216", salt, h])),
    ("m below 8*p", "$".join([head, variety, ver, "m=8,t=1,p=2", salt, h])),
    ("t=0", "$".join([head, variety, ver, "m=64,t=0,p=2", salt, h])),
    ("version 20", "$".join([head, variety, "v=20", params, salt, h])),
    ("missing hash", "$".join([head, variety, ver, params, salt])),
    ("empty hash", "$".join([head, variety, ver, params, salt, ""])),
    ("short salt (4 bytes)", "$".join([head, variety, ver, params, "AAAAAA", h])),
    ("trailing dollar", good + "$"),
    ("single dollar after name", "argon2" + good[len("argon2$"):]),
    ("no dollar after name", "argon2" + good[len("argon2$") - 1:].lstrip("$")),
])
add("argon2 hostile: t=2^31 (Django would run for hours)", "password",
    "$".join([head, variety, ver, "m=64,t=2147483648,p=2", salt, h]),
    ask_django=False, expected=False)
add("argon2 hostile: m=2^30 t=2^20 (Django would run for hours)", "password",
    "$".join([head, variety, ver, "m=1073741824,t=1048576,p=2", salt, h]),
    ask_django=False, expected=False)

# --- bcrypt ---------------------------------------------------------------------
BSALT = b"$2b$04$" + b"abcdefghijklmnopqrstuu"
bsha = H.BCryptSHA256PasswordHasher()
bplain = H.BCryptPasswordHasher()
for i, pw in enumerate(PASSWORDS):
    right_and_wrong("bcrypt_sha256 rounds 4 #%d" % i, pw, bsha.encode(pw, BSALT))
    right_and_wrong("bcrypt rounds 4 #%d" % i, pw, bplain.encode(pw, BSALT))
right_and_wrong("bcrypt_sha256 rounds 12 (default)", "correct horse",
                bsha.encode("correct horse", b"$2b$12$" + b"Zyxwvutsrqponmlkjihgfe"))
p72 = "A" * 72
add("bcrypt 72-byte truncation: 73rd char differs", p72 + "Y", bplain.encode(p72 + "X", BSALT))
add("bcrypt_sha256 has no truncation", p72 + "Y", bsha.encode(p72 + "X", BSALT))
u = "ä" * 36  # 72 bytes of UTF-8
add("bcrypt truncation in the middle of UTF-8", u + "ö", bplain.encode(u + "ü", BSALT))
eight = "\xff\xa3" * 20 + "pw"  # 8-bit characters
right_and_wrong("bcrypt 8-bit password", eight, bplain.encode(eight, BSALT))
good = bplain.encode("password", BSALT)
goods = bsha.encode("password", BSALT)
for prefix in ("$2a$", "$2y$"):
    add("bcrypt %s prefix" % prefix, "password", good.replace("$2b$", prefix, 1))
    add("bcrypt_sha256 %s prefix" % prefix, "password", goods.replace("$2b$", prefix, 1))
    add("bcrypt %s prefix 8-bit password" % prefix, eight,
        bplain.encode(eight, BSALT).replace("$2b$", prefix, 1))
    add("bcrypt %s prefix made by %s" % (prefix, prefix), "password",
        "bcrypt$" + bcrypt.hashpw(b"password", BSALT.replace(b"$2b$", prefix.encode())).decode())
# NUL: pyca/bcrypt refuses it in the password; bcrypt_sha256 hashes it first.
add("bcrypt password with NUL", "pass\0word", good)
add("bcrypt password with NUL after byte 72", p72 + "\0", bplain.encode(p72, BSALT))
right_and_wrong("bcrypt_sha256 password with NUL", "pass\0word", bsha.encode("pass\0word", BSALT))
data = good[len("bcrypt$"):]
variants("bcrypt malformed", "password", good, [
    ("truncated by one char", good[:-1]),
    ("extra char", good + "."),
    ("single dollar", "bcrypt" + good[len("bcrypt$"):]),
    ("$2x$ prefix", good.replace("$2b$", "$2x$", 1)),
    ("$2$ prefix", good.replace("$2b$", "$2$", 1)),
    ("$2c$ prefix", good.replace("$2b$", "$2c$", 1)),
    ("rounds 03", good.replace("$04$", "$03$", 1)),
    ("rounds 32", good.replace("$04$", "$32$", 1)),
    ("rounds 4 (one digit)", good.replace("$04$", "$4$", 1)),
    ("rounds 99", good.replace("$04$", "$99$", 1)),
    ("salt with bad character", "bcrypt$" + data[:7] + "!" + data[8:]),
    ("salt too short", "bcrypt$" + data[:28]),
    ("setting only", "bcrypt$" + data[:29]),
    ("non-canonical last salt char", "bcrypt$" + data[:28] + "v" + data[29:]),
    ("bcrypt_sha256 value under bcrypt name", "bcrypt" + goods[len("bcrypt_sha256"):]),
    ("bcrypt value under bcrypt_sha256 name", "bcrypt_sha256" + good[len("bcrypt"):]),
])
add("bcrypt hostile: rounds 31 (Django would run for days)", "password",
    good.replace("$04$", "$31$", 1), ask_django=False, expected=False)
add("bcrypt_sha256 hostile: rounds 30", "password",
    goods.replace("$04$", "$30$", 1), ask_django=False, expected=False)

# --- scrypt ---------------------------------------------------------------------
scr = ScryptPasswordHasher()
for i, pw in enumerate(PASSWORDS):
    right_and_wrong("scrypt n=16 r=2 p=1 #%d" % i, pw, scr.encode(pw, SALT, 16, 2, 1))
right_and_wrong("scrypt Django 5.1+ defaults (n=2^14 r=8 p=5)", "correct horse",
                scr.encode("correct horse", SALT, 2 ** 14, 8, 5))
right_and_wrong("scrypt Django 4.0 defaults (p=1)", "correct horse",
                scr.encode("correct horse", SALT, 2 ** 14, 8, 1))
good = scr.encode("password", SALT, 16, 2, 1)
alg, n, salt, r, p, h = good.split("$")
variants("scrypt malformed", "password", good, [
    ("truncated by one char", good[:-1]),
    ("unpadded base64", good.rstrip("=")),
    ("n=3", "$".join([alg, "3", salt, r, p, h])),
    ("n=1", "$".join([alg, "1", salt, r, p, h])),
    ("n=0", "$".join([alg, "0", salt, r, p, h])),
    ("n with leading zero", "$".join([alg, "016", salt, r, p, h])),
    ("r=0", "$".join([alg, n, salt, "0", p, h])),
    ("p=0", "$".join([alg, n, salt, r, "0", h])),
    ("n=2^20 r=8 (over the 32 MiB cap)", "$".join([alg, str(2 ** 20), salt, "8", p, h])),
    ("n=2^15 r=8 p=1 (just over 32 MiB)", "$".join([alg, str(2 ** 15), salt, "8", p, h])),
    ("p=2^20", "$".join([alg, n, salt, r, str(2 ** 20), h])),
    ("n=2^62", "$".join([alg, str(2 ** 62), salt, r, p, h])),
    ("n=2^64", "$".join([alg, str(2 ** 64), salt, r, p, h])),
    ("empty salt", "$".join([alg, n, "", r, p, h])),
    ("dollar in hash", good + "$x"),
    ("fields in pbkdf2 order", "$".join([alg, n, r, p, salt, h])),
])

# --- salted and unsalted digests -------------------------------------------------
md5 = H.MD5PasswordHasher()
sha1 = H.SHA1PasswordHasher()
for i, pw in enumerate(PASSWORDS):
    right_and_wrong("md5 #%d" % i, pw, md5.encode(pw, SALT))
    right_and_wrong("sha1 #%d" % i, pw, sha1.encode(pw, SALT))
    right_and_wrong("unsalted_md5 #%d" % i, pw, H.UnsaltedMD5PasswordHasher().encode(pw, ""))
    right_and_wrong("unsalted_md5 md5$$ form #%d" % i, pw,
                    "md5$$" + H.UnsaltedMD5PasswordHasher().encode(pw, ""))
    right_and_wrong("unsalted_sha1 #%d" % i, pw, H.UnsaltedSHA1PasswordHasher().encode(pw, ""))
right_and_wrong("sha1 Django 1.3 style 5-hex salt", "password", sha1.encode("password", "a1b2c"))
right_and_wrong("md5 odd salt", "password", md5.encode("password", "sälz:+/= "))
gm = md5.encode("password", SALT)
gs = sha1.encode("password", SALT)
gu = H.UnsaltedMD5PasswordHasher().encode("password", "")
gus = H.UnsaltedSHA1PasswordHasher().encode("password", "")
variants("digest malformed", "password", gm, [
    ("md5 uppercase hex", gm[:-32] + gm[-32:].upper()),
    ("md5 truncated", gm[:-1]),
    ("md5 empty salt, 31 hex", "md5$$" + gu[:-1]),
    ("md5 empty salt, 33 hex", "md5$$" + gu + "0"),
    ("md5$$ uppercase hex", "md5$$" + gu.upper()),
    ("MD5$$ uppercase algorithm", "MD5$$" + gu),
    ("md5 extra field", gm + "$"),
    ("sha1 uppercase hex", gs[:-40] + gs[-40:].upper()),
    ("sha1 truncated", gs[:-1]),
    ("sha1$$ with 39 hex", gus[:-1]),
    ("sha1$$ with 41 hex", gus + "0"),
    ("sha1$$ uppercase hex", "sha1$$" + gus[6:].upper()),
    ("bare md5 uppercase hex", gu.upper()),
    ("bare md5 31 chars", gu[:-1]),
    ("bare md5 33 chars", gu + "0"),
    ("bare 32 non-hex chars", "z" * 32),
    ("bare 32 chars with non-ASCII", "ä" + gu[1:]),
    ("md5 value under sha1 name", "sha1" + gm[3:]),
])

# --- crypt ------------------------------------------------------------------------
cr = H.CryptPasswordHasher()
right_and_wrong("crypt DES (Django's own format)", "password", cr.encode("password", "ab"))
add("crypt DES uses 8 characters only", "password2", cr.encode("password1", "ab"))
add("crypt DES with non-ASCII password", "pässwörd", cr.encode("pässwörd", "ab"))
add("crypt DES wrong password", "pässwörX", cr.encode("pässwörd", "ab"))
right_and_wrong("crypt Django 1.3 layout (salt field)", "password",
                "crypt$ab$" + crypt.crypt("password", "ab"))
SETTINGS = [
    ("DES", "ab"),
    ("BSDi extended DES", "_J9..abcd"),
    ("MD5 $1$", "$1$abcdefgh"),
    ("NT $3$", "$3$"),
    ("SHA-256 $5$", "$5$abcdefghijklmnop"),
    ("SHA-256 $5$ rounds=1000", "$5$rounds=1000$abcdefghijklmnop"),
    ("SHA-512 $6$", "$6$abcdefghijklmnop"),
    ("SHA-512 $6$ rounds=5000", "$6$rounds=5000$abcdefghijklmnop"),
    ("bcrypt $2b$", "$2b$04$abcdefghijklmnopqrstuu"),
    ("bcrypt $2a$", "$2a$04$abcdefghijklmnopqrstuu"),
    ("bcrypt $2y$", "$2y$04$abcdefghijklmnopqrstuu"),
    ("yescrypt $y$", "$y$j9T$abcdefghijklmnop"),
    ("gost-yescrypt $gy$", "$gy$j9T$abcdefghijklmnop"),
    ("scrypt $7$", "$7$CU..../....abcdefgh"),
    ("sha1crypt $sha1$", "$sha1$1000$abcdefgh"),
    ("SunMD5 $md5$", "$md5$abcdefgh"),
    ("SunMD5 $md5,rounds=", "$md5,rounds=100$abcdefgh"),
]
for what, setting in SETTINGS:
    for i, pw in enumerate(["password", "pässwörd ключ", ""]):
        h = crypt.crypt(pw, setting)
        right_and_wrong("crypt %s #%d" % (what, i), pw, "crypt$$" + h)
sha512 = crypt.crypt("password", "$6$abcdefghijklmnop")
variants("crypt malformed", "password", "crypt$$" + sha512, [
    ("truncated by one char", "crypt$$" + sha512[:-1]),
    ("empty data", "crypt$$"),
    ("no second dollar", "crypt$" + sha512),
    ("$6$ rounds=1000000000 (over crypt's maximum)",
     "crypt$$" + sha512.replace("$6$", "$6$rounds=1000000000$", 1)),
    ("failure token *0", "crypt$$*0"),
    ("failure token *1", "crypt$$*1"),
    ("unknown prefix $9$", "crypt$$$9$abcdefgh$xyz"),
    ("DES one salt char", "crypt$$a"),
])
add("crypt password with NUL", "pass\0word", "crypt$$" + crypt.crypt("pass", "ab"))
add("crypt hostile: $6$ rounds=999999999 (Django would run for minutes)", "password",
    "crypt$$" + sha512.replace("$6$", "$6$rounds=999999999$", 1),
    ask_django=False, expected=False)
add("crypt hostile: $2b$31$ (Django would run for days)", "password",
    "crypt$$$2b$31$abcdefghijklmnopqrstuu" + "a" * 31, ask_django=False, expected=False)
add("crypt hostile: yescrypt N=2^22 r=32 (16 GiB)", "password",
    "crypt$$$y$jJT$abcdefghijklmnop$" + "a" * 43, ask_django=False, expected=False)
add("crypt hostile: yescrypt N=2^40", "password", "crypt$$$y$jb.$abcdefghijklmnop$" + "a" * 43,
    ask_django=False, expected=False)
add("crypt hostile: scrypt $7$ N=2^30", "password", "crypt$$$7$SU..../....abcdefgh$" + "a" * 43,
    ask_django=False, expected=False)

# --- PBKDF2 with NUL, unusable, empty, unknown ---------------------------------------
right_and_wrong("pbkdf2_sha256 password with NUL", "pass\0word",
                pbkdf2.encode("pass\0word", SALT, 1000))
good = pbkdf2.encode("password", SALT, 1000)
for what, value in [
    ("unusable '!'", "!"),
    ("unusable '!' + 40 chars", "!" + "A" * 40),
    ("'!' + valid hash", "!" + good),
    ("empty value", ""),
    ("unknown algorithm", "foo$bar$baz"),
    ("plain text stored", "password"),
    ("single dollar", "$"),
]:
    add(what, "password", value)
add("'!' + valid hash, empty password", "", "!" + pbkdf2.encode("", SALT, 1000))

out = {
    "generator": "tests/django/make_vectors.py",
    "django": django.get_version(),
    "argon2_cffi": argon2.__version__,
    "bcrypt": bcrypt.__version__,
    "hashers": ALL_HASHERS.split(","),
    "vectors": vectors,
}
vectorfile.write(out)
