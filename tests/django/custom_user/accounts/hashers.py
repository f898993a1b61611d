from django.contrib.auth.hashers import BasePasswordHasher, PBKDF2PasswordHasher


class QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Django's PBKDF2 with the site's own iteration count."""
    iterations = 1500


class ReversedHasher(BasePasswordHasher):
    """A hasher of the site's own making, which django-authd cannot know."""
    algorithm = "reversed"

    def encode(self, password, salt):
        return "reversed$%s$%s" % (salt, password[::-1])


class SaltyPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Django's algorithm name, values of its own."""

    def encode(self, password, salt, iterations=None):
        return super().encode(password + "pepper", salt, iterations)
