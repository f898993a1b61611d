from django.conf import settings
from django.db import models


class UserKey(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, db_index=True, on_delete=models.CASCADE)
    name = models.CharField(max_length=50, blank=True)
    key = models.TextField(max_length=2000)
    fingerprint = models.CharField(max_length=128, blank=True, db_index=True)
    created = models.DateTimeField(auto_now_add=True, null=True)
    last_modified = models.DateTimeField(auto_now=True, null=True)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "sshkey_userkey"
        unique_together = [("user", "name")]
