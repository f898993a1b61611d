#!/usr/bin/python3
"""Generate tests/django/vectors_modern.json: password hash vectors for
today's Django (4.2 LTS, 5.2 LTS, 6.0), the second oracle beside
vectors.json (made by Debian's Django 3.2 itself).

Debian 12 has no newer Django, so the values are made by the primitives
those versions' hashers call, in their formats, with each version's
defaults (django/contrib/auth/hashers.py of 4.2, 5.2 and 6.0; see
/work/shared/django-passwords.md):

  pbkdf2_sha256, pbkdf2_sha1  hashlib.pbkdf2_hmac; "%s$%d$%s$%s" with
                              base64.b64encode(...).strip();
                              600,000 (4.2), 1,000,000 (5.2), 1,200,000 (6.0)
  argon2                      argon2.low_level.hash_secret, Type.ID, version
                              19, t=2 m=102400 p=8, hash_len 32 (argon2-cffi
                              >= 21.2's DEFAULT_HASH_LENGTH) and 16 (older)
  bcrypt_sha256               bcrypt.hashpw(hexlify(sha256(pw)), gensalt(12))
  scrypt                      hashlib.scrypt(maxmem=0, dklen=64),
                              "%s$%d$%s$%d$%d$%s"; n=2^14 r=8, p=1 (4.2), 5 (5.2, 6.0)
  md5                         salted md5 (every version still ships it)

plus values those hashers verify with unusual parameters (scrypt p=100,
argon2 p=65, t=1025, 64-byte tags, 8-byte salts, argon2i/argon2d, v=16,
no v=) and values they refuse (scrypt over OpenSSL's 32 MiB maxmem
default). "expected" is what each version's check_password answers,
computed the way its hasher's verify() does with the same primitives
(re-encode and compare; argon2-cffi's PasswordHasher.verify; an exception
counts as False). Salts are fixed and bcrypt's salt is given, so the output
is reproducible byte for byte. Run with Debian's /usr/bin/python3
(python3-argon2, python3-bcrypt):

    /usr/bin/python3 tests/django/make_vectors_modern.py [OUTPUT]   (default: stdout)
"""
import base64
import binascii
import hashlib
import hmac

import argon2
import bcrypt
from argon2.low_level import Type, hash_secret

import vectorfile  # beside this file

# Each version's defaults, from its hashers.py.
VERSIONS = {
    "4.2": {"pbkdf2": 600_000, "argon2": (2, 102400, 8), "bcrypt": 12, "scrypt": (2 ** 14, 8, 1)},
    "5.2": {"pbkdf2": 1_000_000, "argon2": (2, 102400, 8), "bcrypt": 12, "scrypt": (2 ** 14, 8, 5)},
    "6.0": {"pbkdf2": 1_200_000, "argon2": (2, 102400, 8), "bcrypt": 12, "scrypt": (2 ** 14, 8, 5)},
}
PASSWORDS = ["correct horse battery staple", "pässwörd ключ 🔑"]
SALT = "Fx9kQ2mZr7TbW4yLp0NcVe"                # 22 chars: get_random_string(22)
BSALT = b"$2b$12$" + b"abcdefghijklmnopqrstuu"  # bcrypt.gensalt(12) shape

vectors = []


# --- the hashers' encode(), with the primitives they call ------------------------

def pbkdf2(password, salt, iterations, algorithm="pbkdf2_sha256"):
    digest = "sha256" if algorithm == "pbkdf2_sha256" else "sha1"
    h = hashlib.pbkdf2_hmac(digest, password.encode(), salt.encode(), iterations)
    return "%s$%d$%s$%s" % (algorithm, iterations, salt, base64.b64encode(h).decode("ascii").strip())


def argon2_value(password, t, m, p, hash_len=32, salt=SALT.encode(), type_=Type.ID, version=19):
    return "argon2" + hash_secret(password.encode(), salt, time_cost=t, memory_cost=m, parallelism=p,
                                  hash_len=hash_len, type=type_, version=version).decode("ascii")


def bcrypt_sha256(password, salt=BSALT):
    data = bcrypt.hashpw(binascii.hexlify(hashlib.sha256(password.encode()).digest()), salt)
    return "bcrypt_sha256$" + data.decode("ascii")


def scrypt(password, salt, n, r, p, maxmem=0):
    h = hashlib.scrypt(password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=maxmem, dklen=64)
    return "scrypt$%d$%s$%d$%d$%s" % (n, salt, r, p, base64.b64encode(h).decode("ascii").strip())


def md5(password, salt):
    return "md5$%s$%s" % (salt, hashlib.md5((salt + password).encode()).hexdigest())


# --- the hashers' verify(), as 4.2, 5.2 and 6.0 have them -------------------------

def verify(password, encoded):
    algorithm = encoded.split("$", 1)[0]
    if algorithm in ("pbkdf2_sha256", "pbkdf2_sha1"):
        algorithm, iterations, salt, _ = encoded.split("$", 3)
        return hmac.compare_digest(encoded, pbkdf2(password, salt, int(iterations), algorithm))
    if algorithm == "argon2":
        _, rest = encoded.split("$", 1)
        try:
            return argon2.PasswordHasher().verify("$" + rest, password)
        except argon2.exceptions.VerificationError:
            return False
    if algorithm == "bcrypt_sha256":
        _, data = encoded.split("$", 1)
        digest = binascii.hexlify(hashlib.sha256(password.encode()).digest())
        return hmac.compare_digest(data.encode(), bcrypt.hashpw(digest, data.encode()))
    if algorithm == "scrypt":
        _, n, salt, r, p, _ = encoded.split("$", 6)
        return hmac.compare_digest(encoded, scrypt(password, salt, int(n), int(r), int(p)))
    if algorithm == "md5":
        _, salt, _ = encoded.split("$", 2)
        return hmac.compare_digest(encoded, md5(password, salt))
    raise ValueError("unknown algorithm")


def django_check(password, encoded):
    try:
        return bool(verify(password, encoded))
    except Exception:  # check_password does not catch: PAM counts it as False
        return False


def add(version, note, password, encoded):
    vectors.append({"django": version, "note": "%s: %s" % (version, note), "password": password,
                    "encoded": encoded, "expected": django_check(password, encoded)})


def right_and_wrong(version, note, password, encoded):
    add(version, note + ": right password", password, encoded)
    add(version, note + ": wrong password", password + "x", encoded)


for version, d in VERSIONS.items():
    t, m, p = d["argon2"]
    n, r, sp = d["scrypt"]
    for i, pw in enumerate(PASSWORDS):
        right_and_wrong(version, "pbkdf2_sha256 %d (default) #%d" % (d["pbkdf2"], i), pw,
                        pbkdf2(pw, SALT, d["pbkdf2"]))
        right_and_wrong(version, "pbkdf2_sha1 %d (default) #%d" % (d["pbkdf2"], i), pw,
                        pbkdf2(pw, SALT, d["pbkdf2"], "pbkdf2_sha1"))
        right_and_wrong(version, "argon2 argon2id t=%d m=%d p=%d hash_len 32 (default) #%d" % (t, m, p, i),
                        pw, argon2_value(pw, t, m, p))
        right_and_wrong(version, "argon2 argon2id t=%d m=%d p=%d hash_len 16 (argon2-cffi < 21.2) #%d"
                        % (t, m, p, i), pw, argon2_value(pw, t, m, p, hash_len=16))
        right_and_wrong(version, "bcrypt_sha256 rounds %d (default) #%d" % (d["bcrypt"], i), pw,
                        bcrypt_sha256(pw))
        right_and_wrong(version, "scrypt n=%d r=%d p=%d (default) #%d" % (n, r, sp, i), pw,
                        scrypt(pw, SALT, n, r, sp))
        right_and_wrong(version, "md5 #%d" % i, pw, md5(pw, SALT))

# Values every one of these versions verifies, with one unusual parameter.
V = "4.2, 5.2, 6.0"
pw = "password"
right_and_wrong(V, "scrypt n=16 r=1 p=100", pw, scrypt(pw, SALT, 16, 1, 100))
right_and_wrong(V, "scrypt n=2^14 r=8 p=16 (p over the old cap)", pw, scrypt(pw, SALT, 2 ** 14, 8, 16))
right_and_wrong(V, "scrypt n=2^15 r=4 p=1 (16 MiB)", pw, scrypt(pw, SALT, 2 ** 15, 4, 1))
right_and_wrong(V, "argon2 argon2id p=65 m=1024 t=1", pw, argon2_value(pw, 1, 1024, 65))
right_and_wrong(V, "argon2 argon2id t=1025 m=64 p=1", pw, argon2_value(pw, 1025, 64, 1))
right_and_wrong(V, "argon2 argon2id 64-byte tag, 8-byte salt", pw,
                argon2_value(pw, 1, 64, 2, hash_len=64, salt=b"saltsalt"))
right_and_wrong(V, "argon2 argon2id 4-byte tag", pw, argon2_value(pw, 1, 64, 2, hash_len=4))
right_and_wrong(V, "argon2 argon2id 512-byte tag, 64-byte salt", pw,
                argon2_value(pw, 1, 64, 2, hash_len=512, salt=bytes(range(64))))
for type_ in (Type.I, Type.D, Type.ID):
    right_and_wrong(V, "argon2 %s v=16" % type_.name, pw, argon2_value(pw, 1, 64, 2, type_=type_, version=16))
    right_and_wrong(V, "argon2 %s without v=" % type_.name, pw,
                    argon2_value(pw, 1, 64, 2, type_=type_, version=16).replace("$v=16", ""))
    right_and_wrong(V, "argon2 %s v=19" % type_.name, pw, argon2_value(pw, 1, 64, 2, type_=type_))
# What these versions refuse: hashlib.scrypt(maxmem=0) is capped at 32 MiB
# by OpenSSL, so a value made with more memory never verifies there.
add(V, "scrypt n=2^15 r=8 p=1 (over OpenSSL's 32 MiB): right password", pw,
    scrypt(pw, SALT, 2 ** 15, 8, 1, maxmem=64 * 1024 * 1024))
add(V, "scrypt n=2^14 r=16 p=1 (over OpenSSL's 32 MiB): right password", pw,
    scrypt(pw, SALT, 2 ** 14, 16, 1, maxmem=64 * 1024 * 1024))

out = {
    "generator": "tests/django/make_vectors_modern.py",
    "defaults": VERSIONS,
    "argon2_cffi": argon2.__version__,
    "bcrypt": bcrypt.__version__,
    "vectors": vectors,
}
vectorfile.write(out)
