"""A user model django-authd cannot serve as Django does (no migrations: the
tests only read its _meta): a UUID primary key, an integer USERNAME_FIELD,
no groups or permissions, is_staff computed in Python."""
import uuid

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models


class Account(AbstractBaseUser):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    number = models.IntegerField(unique=True)
    is_admin = models.BooleanField(default=False)

    USERNAME_FIELD = "number"

    @property
    def is_staff(self):
        return self.is_admin
