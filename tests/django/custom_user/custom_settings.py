"""A Django site with a custom user model, as Django's documentation shows
one: users log in with their e-mail address (stored in the column "mail" of
the table "people"), no is_active or is_staff column, PermissionsMixin for
groups and permissions, and a PBKDF2 hasher subclass with its own iteration
count. tests/integration/test_contrib_authd_config.py generates django-authd's
configuration from it.
  CU_DB_NAME   the SQLite file
  CU_HASHERS   PASSWORD_HASHERS, comma separated dotted paths (optional)
  CU_USER_MODEL  AUTH_USER_MODEL (default accounts.Member; plain.Account is
               one django-authd cannot serve)
"""
import os

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "accounts", "plain", "django_authd"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
AUTH_USER_MODEL = os.environ.get("CU_USER_MODEL", "accounts.Member")
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["CU_DB_NAME"]}}
PASSWORD_HASHERS = os.environ.get("CU_HASHERS", "accounts.hashers.QuickPBKDF2PasswordHasher").split(",")
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
