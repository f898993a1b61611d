"""Builds a test population in a Django database with real Django, and computes
what Django answers about it. Run with Debian's /usr/bin/python3 and the
environment of conftest.django_env():

    django_population.py populate SPEC.json     migrate, create users, groups, permissions
    django_population.py expect SPEC.json OUT.json
        Django's answers (modwsgi check_password, groups_for_user, User.has_perm)
        for every user. Django rehashes passwords on a successful check, so run
        this on a copy of the database.

SPEC.json (written by fixtures_db.population_spec()) lists users with their
passwords and how to hash them, groups, and permissions."""
import json
import os
import sys

import django

django.setup()

from django.contrib.auth import hashers as H  # noqa: E402
from django.contrib.auth.models import Group, Permission, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from djtest.hashers import ScryptPasswordHasher  # noqa: E402

# Cheap work factors: verification reads them from the stored value.
PBKDF2_ITER = int(os.environ.get("DJ_PBKDF2_ITERATIONS", "1000"))


class FastArgon2(H.Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 256
    parallelism = 1


class FastBcrypt(H.BCryptSHA256PasswordHasher):
    rounds = 4


def encode(kind, password):
    salt = H.get_random_string(22)
    if kind == "pbkdf2_sha256":
        return H.PBKDF2PasswordHasher().encode(password, salt, PBKDF2_ITER)
    if kind == "pbkdf2_sha1":
        return H.PBKDF2SHA1PasswordHasher().encode(password, salt, PBKDF2_ITER)
    if kind == "argon2":
        return FastArgon2().encode(password, FastArgon2().salt())
    if kind == "bcrypt_sha256":
        return FastBcrypt().encode(password, FastBcrypt().salt())
    if kind == "scrypt":
        return ScryptPasswordHasher().encode(password, salt, n=1024, r=8, p=1)
    if kind == "unusable":
        return H.make_password(None)
    raise ValueError(kind)


def perm(name):
    app, code = name.split(".")
    return Permission.objects.get(content_type__app_label=app, codename=code)


def populate(spec):
    call_command("migrate", verbosity=0, interactive=False)
    with transaction.atomic():
        groups = {g: Group.objects.create(name=g) for g in spec["groups"]}
        for g, perms in spec["group_perms"].items():
            groups[g].permissions.add(*[perm(p) for p in perms])
        for u in spec["users"]:
            user = User(username=u["username"], first_name=u["first_name"], last_name=u["last_name"],
                        is_active=u["is_active"], is_staff=u["is_staff"], is_superuser=u["is_superuser"],
                        email="")
            user.password = encode(u["hasher"], u["password"])
            user.save()
            if u["groups"]:
                user.groups.add(*[groups[g] for g in u["groups"]])
            if u["perms"]:
                user.user_permissions.add(*[perm(p) for p in u["perms"]])


def expect(spec):
    from django import db
    from django.contrib.auth.handlers.modwsgi import check_password, groups_for_user

    # modwsgi closes the connection after every call (CONN_MAX_AGE = 0); a
    # fresh PostgreSQL login per call would dominate the run time. Answers do
    # not depend on it.
    db.close_old_connections = lambda **kwargs: None

    out = {"users": {}, "groups": {}}
    for u in spec["users"]:
        name = u["username"]
        user = User.objects.get(username=name)   # before check_password may rehash
        e = {
            "id": user.id,
            "right": check_password({}, name, u["password"]),
            "wrong": check_password({}, name, u["password"] + "x"),
            "groups": sorted(g.decode() for g in groups_for_user({}, name)),
            "perms": {p: user.has_perm(p) for p in spec["probe_perms"]},
            "is_active": user.is_active,
            "is_staff": user.is_staff,
            "is_superuser": user.is_superuser,
            "first_name": user.first_name,
            "last_name": user.last_name,
        }
        out["users"][name] = e
    for name in spec["ghosts"]:
        out["users"][name] = {"id": None, "right": check_password({}, name, "whatever"),
                              "groups": [g.decode() for g in groups_for_user({}, name)]}
    # Other spellings of stored names (MySQL's collations may find the user):
    # what Django answers for each, with the stored user's password.
    passwords = {u["username"]: u["password"] for u in spec["users"]}
    out["spellings"] = {}
    for typed, stored in spec.get("spellings", {}).items():
        found = User.objects.filter(username=typed).first()
        out["spellings"][typed] = {
            "found": found.username if found else None,
            "right": check_password({}, typed, passwords[stored]),
            "wrong": check_password({}, typed, passwords[stored] + "x"),
            "groups": sorted(g.decode() for g in groups_for_user({}, typed)),
        }
    for g in Group.objects.all():
        out["groups"][g.name] = {
            "id": g.id,
            "active_members": [u.username for u in g.user_set.filter(is_active=True).order_by("id")],
        }
    return out


if __name__ == "__main__":
    with open(sys.argv[2]) as f:
        spec = json.load(f)
    if sys.argv[1] == "populate":
        populate(spec)
    elif sys.argv[1] == "expect":
        result = expect(spec)
        with open(sys.argv[3], "w") as f:
            json.dump(result, f)
    else:
        sys.exit("unknown command")
