"""Users and SSH keys for the AuthorizedKeys tests, written by real Django
into the django-sshkey table (tests/django/django_sshkey). Run with Debian's
/usr/bin/python3 and conftest.django_env().

    sshkeys_seed.py seed            migrate; the users below
    sshkeys_seed.py keys JSON       replaces the keys of each user named in
                                    JSON ({"user": ["key text", ...]})
    sshkeys_seed.py sql JSON        runs each [statement, params] of JSON on
                                    the site's connection (another app's table)

    alice  ssh-users          bob    no group (left out by [access] sshd)
    carol  ssh-users, inactive       root   ssh-users (a local name)"""
import json
import sys

import django

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django_sshkey.models import UserKey  # noqa: E402

if sys.argv[1] == "seed":
    call_command("migrate", verbosity=0, interactive=False)
    users = Group.objects.create(name="ssh-users")
    for name, active, member in [("alice", True, True), ("bob", True, False), ("carol", False, True),
                                 ("root", True, True)]:
        u = User.objects.create(username=name, is_active=active, password="!")
        if member:
            u.groups.add(users)
elif sys.argv[1] == "keys":
    for name, keys in json.loads(sys.argv[2]).items():
        user = User.objects.get(username=name)
        UserKey.objects.filter(user=user).delete()
        for i, key in enumerate(keys):
            UserKey.objects.create(user=user, name="key%d" % i, key=key)
elif sys.argv[1] == "sql":
    from django.db import connection, transaction  # noqa: E402
    with transaction.atomic(), connection.cursor() as c:
        for statement, params in json.loads(sys.argv[2]):
            c.execute(statement, params)
else:
    sys.exit("unknown command " + sys.argv[1])
