"""Creates the population of the end-to-end tests (Apache, sshd, FTP) with
real Django. Run with Debian's /usr/bin/python3 and conftest.django_env().

Every password is a pbkdf2_sha256 hash of 1,000 iterations, the daemon's
preferred parameters in those tests, so nothing is ever rehashed.

    alice  / wonderland   developers, sftp, ssh-users, ftp-users
    bob    / builder      developers
    carol  / singer       inactive (member of sftp, ssh-users, ftp-users)
    admin  / admin-secret superuser, no group"""
import django

django.setup()

from django.contrib.auth.hashers import PBKDF2PasswordHasher, get_random_string  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402

ITERATIONS = 1000


def hashed(password):
    return PBKDF2PasswordHasher().encode(password, get_random_string(22), ITERATIONS)


call_command("migrate", verbosity=0, interactive=False)
groups = {n: Group.objects.create(name=n) for n in ["developers", "sftp", "ssh-users", "ftp-users", "ops"]}
USERS = [
    ("alice", "wonderland", True, False, ["developers", "sftp", "ssh-users", "ftp-users"]),
    ("bob", "builder", True, False, ["developers"]),
    ("carol", "singer", False, False, ["sftp", "ssh-users", "ftp-users"]),
    ("admin", "admin-secret", True, True, []),
    # A Django account that shares its name with local accounts: the local
    # account must win (config/pam.d/* put pam_localuser before pam_django).
    ("lena", "django-lena-pass", True, False, ["ssh-users", "ftp-users"]),
    ("root", "django-root-pass", True, True, ["ssh-users", "ftp-users"]),
]
for name, password, active, superuser, member_of in USERS:
    u = User(username=name, email=name + "@example.com", is_active=active,
             is_staff=superuser, is_superuser=superuser, first_name=name.capitalize())
    u.password = hashed(password)
    u.save()
    u.groups.add(*[groups[g] for g in member_of])
