"""The test project (settings.py) with django-otp and its TOTP plugin, for
the one-time code tests (tests/integration/test_otp.py)."""
from settings import *  # noqa: F401,F403

INSTALLED_APPS = INSTALLED_APPS + ["django_otp", "django_otp.plugins.otp_totp"]  # noqa: F405
