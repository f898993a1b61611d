"""Creates the demo population with real Django (run with /usr/bin/python3,
DJANGO_SETTINGS_MODULE=settings, after `manage.py migrate`)."""
import django

django.setup()

from django.contrib.auth.models import Group, Permission, User  # noqa: E402

developers = Group.objects.create(name="developers")
sftp = Group.objects.create(name="sftp")
developers.permissions.add(Permission.objects.get(codename="view_user"))

alice = User.objects.create_user("alice", "alice@example.com", "wonderland",
                                 first_name="Alice", last_name="Liddell")
alice.groups.add(developers, sftp)
bob = User.objects.create_user("bob", "bob@example.com", "builder",
                               first_name="Bob", last_name="Builder")
bob.groups.add(developers)
carol = User.objects.create_user("carol", "carol@example.com", "singer",
                                 first_name="Carol", last_name="King", is_active=False)
carol.groups.add(sftp)
User.objects.create_superuser("admin", "admin@example.com", "admin-secret")
# What anyone may try on a site with open sign-up, or web staff in the admin:
# a user named like the host's root, a group named like Debian's sudo group.
root = User.objects.create_user("root", "root@example.com", "django-root-pass")
Group.objects.create(name="sudo").user_set.add(root, bob)
print("created users alice, bob, carol (inactive), admin, root; groups developers, sftp, sudo")
