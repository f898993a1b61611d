"""[passwords] from PASSWORD_HASHERS (and AUTH_PASSWORD_VALIDATORS)."""
import os

from django.utils.module_loading import import_string

from .sections import Section

HASHERS = "django.contrib.auth.hashers."
# Django's hasher classes, by the algorithm name django-authd knows them by.
BUILTIN = {
    HASHERS + "PBKDF2PasswordHasher": "pbkdf2_sha256",
    HASHERS + "PBKDF2SHA1PasswordHasher": "pbkdf2_sha1",
    HASHERS + "Argon2PasswordHasher": "argon2",
    HASHERS + "BCryptSHA256PasswordHasher": "bcrypt_sha256",
    HASHERS + "BCryptPasswordHasher": "bcrypt",
    HASHERS + "ScryptPasswordHasher": "scrypt",
    HASHERS + "SHA1PasswordHasher": "sha1",
    HASHERS + "MD5PasswordHasher": "md5",
    HASHERS + "UnsaltedSHA1PasswordHasher": "unsalted_sha1",
    HASHERS + "UnsaltedMD5PasswordHasher": "unsalted_md5",
    HASHERS + "CryptPasswordHasher": "crypt",
}
ALGORITHMS = set(BUILTIN.values())
# Work factors a subclass may change, and the [passwords] key of each.
WORK_FACTORS = {
    "pbkdf2_sha256": {"iterations": "pbkdf2_iterations"},
    "pbkdf2_sha1": {"iterations": "pbkdf2_iterations"},
    "argon2": {"time_cost": "argon2_time_cost", "memory_cost": "argon2_memory_cost",
               "parallelism": "argon2_parallelism"},
    "bcrypt_sha256": {"rounds": "bcrypt_rounds"},
    "bcrypt": {"rounds": "bcrypt_rounds"},
    "scrypt": {"work_factor": "scrypt_work_factor", "block_size": "scrypt_block_size",
               "parallelism": "scrypt_parallelism"},
}
# What makes the stored value; a subclass that changes one of these makes
# values of its own.
FORMAT_METHODS = ("encode", "verify", "decode", "salt")
VALIDATORS = "django.contrib.auth.password_validation."
KNOWN_VALIDATORS = {"UserAttributeSimilarityValidator", "MinimumLengthValidator", "CommonPasswordValidator",
                    "NumericPasswordValidator"}
DEFAULT_USER_ATTRIBUTES = ("username", "first_name", "last_name", "email")


def _path(cls):
    return "%s.%s" % (cls.__module__, cls.__qualname__)


def _django_base(cls):
    """The Django hasher cls is, or derives from without changing the values
    it makes; None when there is none."""
    for i, base in enumerate(cls.__mro__):
        if _path(base) in BUILTIN:
            changed = any(m in vars(c) for c in cls.__mro__[:i] for m in FORMAT_METHODS)
            if changed or cls.algorithm != base.algorithm:
                return None
            return base
    return None


def _hasher(s, path, compatible, work):
    """The algorithm name of PASSWORD_HASHERS entry `path`, or None."""
    try:
        cls = import_string(path)
    except ImportError as e:
        s.warnings.append("PASSWORD_HASHERS: cannot import %s (%s)" % (path, e))
        return None
    base = _django_base(cls)
    if base is not None:
        algorithm = BUILTIN[_path(base)]
        for attr, key in WORK_FACTORS.get(algorithm, {}).items():
            if getattr(cls, attr, None) != getattr(base, attr, None) and key not in work:
                work[key] = getattr(cls, attr)
        return algorithm
    algorithm = getattr(cls, "algorithm", None)
    if path in compatible and algorithm in ALGORITHMS:
        return algorithm
    hint = ""
    if algorithm in ALGORITHMS:
        hint = (" (if it makes exactly the values of Django's %r hasher, as a backport does, name it with"
                " --compatible-hasher)" % algorithm)
    s.warnings.append("PASSWORD_HASHERS: %s (algorithm %r) is not one of Django's hashers; django-authd"
                      " cannot verify its values%s" % (path, algorithm, hint))
    return None


def _validators(s, configured):
    names = []
    for entry in configured:
        path, options = entry.get("NAME", ""), entry.get("OPTIONS") or {}
        name = path[len(VALIDATORS):] if path.startswith(VALIDATORS) else None
        if name not in KNOWN_VALIDATORS:
            s.warnings.append("AUTH_PASSWORD_VALIDATORS: %s is not one of Django's validators;"
                              " django-authd cannot apply it to password changes" % path)
            continue
        names.append(name)
        if name == "MinimumLengthValidator" and "min_length" in options:
            s.set("min_length", options["min_length"])
        elif name == "UserAttributeSimilarityValidator":
            if "max_similarity" in options:
                s.set("max_similarity", options["max_similarity"])
            if tuple(options.get("user_attributes", DEFAULT_USER_ATTRIBUTES)) != DEFAULT_USER_ATTRIBUTES:
                s.notes.append("UserAttributeSimilarityValidator user_attributes: django-authd compares"
                               " with the user name, first and last names only")
        elif name == "CommonPasswordValidator":
            # An instance's: Django 4.0+ makes it a cached_property.
            path_ = options.get("password_list_path") or getattr(
                import_string(path)(), "DEFAULT_PASSWORD_LIST_PATH", None)
            if path_:
                s.set("common_passwords", os.path.abspath(os.fspath(path_)))
    s.keys = dict([("validators", ", ".join(names))] + [(k, v) for k, v in s.keys.items()])


def passwords_section(hashers, validators, compatible=()):
    s = Section("passwords")
    work = {}
    names = []
    for path in hashers:
        algorithm = _hasher(s, path, set(compatible), work)
        if algorithm and algorithm not in names:
            names.append(algorithm)
    if not names:
        s.warnings.append("PASSWORD_HASHERS: no hasher django-authd knows")
    s.set("hashers", ", ".join(names))
    for key, value in work.items():
        s.set(key, value)
    v = Section("passwords")
    _validators(v, validators)
    s.keys.update(v.keys)
    s.warnings += v.warnings
    s.notes += v.notes
    if v.keys.get("validators"):
        s.notes.append("validators apply to password changes, which need allow_change = yes")
    return s
