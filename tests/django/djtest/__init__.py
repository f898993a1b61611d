"""Test-only Django app: settings helpers and hashers Debian's Django 3.2 lacks."""
import os

from django.contrib.auth import hashers as _h

# Make the pbkdf2 iteration count configurable for fast tests (class attribute,
# exactly how a project would subclass the hasher).
_it = os.environ.get("DJ_PBKDF2_ITERATIONS")
if _it:
    _h.PBKDF2PasswordHasher.iterations = int(_it)
    _h.PBKDF2SHA1PasswordHasher.iterations = int(_it)
