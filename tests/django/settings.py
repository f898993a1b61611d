"""A minimal Django project used as the oracle by the tests and the demo.

Everything comes from the environment so one settings file serves SQLite and
PostgreSQL:
  DJ_DB_ENGINE    sqlite3 (default), postgresql or mysql
  DJ_DB_NAME      SQLite file, or the PostgreSQL or MySQL database name
  DJ_DB_HOST, DJ_DB_PORT, DJ_DB_USER, DJ_DB_PASSWORD
  DJ_HASHERS      comma-separated algorithm names, preferred first
                  (default: Django's default list)
  DJ_PBKDF2_ITERATIONS  iterations for the pbkdf2 hashers (default: Django's)
"""
import os

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "djtest", "django_sshkey"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

_engine = os.environ.get("DJ_DB_ENGINE", "sqlite3")
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends." + _engine,
        "NAME": os.environ.get("DJ_DB_NAME", "/tmp/django-auth-test.sqlite3"),
        "HOST": os.environ.get("DJ_DB_HOST", ""),
        "PORT": os.environ.get("DJ_DB_PORT", ""),
        "USER": os.environ.get("DJ_DB_USER", ""),
        "PASSWORD": os.environ.get("DJ_DB_PASSWORD", ""),
    }
}
if _engine == "mysql":
    # What sites on MySQL/MariaDB configure: 4-byte characters on the wire.
    DATABASES["default"]["OPTIONS"] = {"charset": "utf8mb4"}

_CLASSES = {
    "pbkdf2_sha256": "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "pbkdf2_sha1": "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "argon2": "django.contrib.auth.hashers.Argon2PasswordHasher",
    "bcrypt_sha256": "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "bcrypt": "django.contrib.auth.hashers.BCryptPasswordHasher",
    "scrypt": "djtest.hashers.ScryptPasswordHasher",
    "sha1": "django.contrib.auth.hashers.SHA1PasswordHasher",
    "md5": "django.contrib.auth.hashers.MD5PasswordHasher",
    "unsalted_sha1": "django.contrib.auth.hashers.UnsaltedSHA1PasswordHasher",
    "unsalted_md5": "django.contrib.auth.hashers.UnsaltedMD5PasswordHasher",
    "crypt": "django.contrib.auth.hashers.CryptPasswordHasher",
}
_names = os.environ.get("DJ_HASHERS", "pbkdf2_sha256,pbkdf2_sha1,argon2,bcrypt_sha256,scrypt")
PASSWORD_HASHERS = [_CLASSES[n.strip()] for n in _names.split(",") if n.strip()]
