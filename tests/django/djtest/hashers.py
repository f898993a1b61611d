"""ScryptPasswordHasher as Django 4.0+ ships it (django/contrib/auth/hashers.py),
for Debian's Django 3.2, which predates it. Same format, same verify (re-encode
and compare the whole string), same must_update; parameters of Django 5.1+
(p = 5) unless DJ_SCRYPT_P says otherwise."""
import base64
import hashlib
import os

from django.contrib.auth.hashers import BasePasswordHasher, mask_hash
from django.utils.crypto import constant_time_compare


class ScryptPasswordHasher(BasePasswordHasher):
    algorithm = "scrypt"
    block_size = 8
    maxmem = 0
    parallelism = int(os.environ.get("DJ_SCRYPT_P", "5"))
    work_factor = 2 ** 14

    def encode(self, password, salt, n=None, r=None, p=None):
        self._check_encode_args(password, salt)
        n = n or self.work_factor
        r = r or self.block_size
        p = p or self.parallelism
        hash_ = hashlib.scrypt(
            password.encode(), salt=salt.encode(), n=n, r=r, p=p,
            maxmem=self.maxmem, dklen=64,
        )
        hash_ = base64.b64encode(hash_).decode("ascii").strip()
        return "%s$%d$%s$%d$%d$%s" % (self.algorithm, n, salt, r, p, hash_)

    def _check_encode_args(self, password, salt):
        if password is None:
            raise TypeError("password must be provided.")
        if not salt or "$" in salt:
            raise ValueError("salt must be provided and cannot contain $.")

    def decode(self, encoded):
        algorithm, work_factor, salt, block_size, parallelism, hash_ = encoded.split("$", 6)
        assert algorithm == self.algorithm
        return {
            "algorithm": algorithm, "block_size": int(block_size), "hash": hash_,
            "parallelism": int(parallelism), "salt": salt, "work_factor": int(work_factor),
        }

    def verify(self, password, encoded):
        decoded = self.decode(encoded)
        encoded_2 = self.encode(password, decoded["salt"], decoded["work_factor"],
                                decoded["block_size"], decoded["parallelism"])
        return constant_time_compare(encoded, encoded_2)

    def safe_summary(self, encoded):
        decoded = self.decode(encoded)
        return {"algorithm": decoded["algorithm"], "salt": mask_hash(decoded["salt"], show=4)}

    def must_update(self, encoded):
        decoded = self.decode(encoded)
        return (decoded["work_factor"] != self.work_factor
                or decoded["block_size"] != self.block_size
                or decoded["parallelism"] != self.parallelism)

    def harden_runtime(self, password, encoded):
        pass
