"""The peers of bench_hash: Django's own check_password (python3-django) and
the libraries Django's hashers call, timed in-process (interpreter start-up
excluded), median of --repeat runs.

usage: django_hash.py --repeat N PASSWORD ENCODED...
prints "<name> <median seconds>" lines."""
import hashlib
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "django"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
import django  # noqa: E402

django.setup()
from django.contrib.auth.hashers import check_password  # noqa: E402


def median(repeat, f):
    t = []
    for _ in range(repeat):
        a = time.perf_counter()
        f()
        t.append(time.perf_counter() - a)
    return statistics.median(t)


def main():
    args = sys.argv[1:]
    repeat = 5
    if args[0] == "--repeat":
        repeat, args = int(args[1]), args[2:]
    password, hashes = args[0], args[1:]
    for enc in hashes:
        algo = enc.split("$", 1)[0]
        assert check_password(password, enc), algo
        print(f"django_{algo} {median(repeat, lambda: check_password(password, enc)):.6f}")
        if algo == "argon2":
            import argon2
            ph = argon2.PasswordHasher()
            print(f"lib_argon2 {median(repeat, lambda: ph.verify('$' + enc.split('$', 1)[1], password)):.6f}")
        elif algo == "bcrypt_sha256":
            import binascii
            import bcrypt
            data = enc.split("$", 1)[1].encode()
            pw = binascii.hexlify(hashlib.sha256(password.encode()).digest())
            print(f"lib_bcrypt_sha256 {median(repeat, lambda: bcrypt.checkpw(pw, data)):.6f}")
        elif algo == "scrypt":
            _, n, salt, r, p, _h = enc.split("$")
            print(f"lib_scrypt {median(repeat, lambda: hashlib.scrypt(password.encode(), salt=salt.encode(), n=int(n), r=int(r), p=int(p), maxmem=0, dklen=64)):.6f}")


main()
