"""Installs the NOTIFY triggers django-authd listens to (triggers.py), on
PostgreSQL only: other databases need none (django-authd watches a SQLite
file by itself). Reversible: `manage.py migrate django_authd zero` removes
them."""
from django.conf import settings
from django.db import migrations

from django_authd.triggers import sql_for


def _run(section):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql_for(schema_editor.connection, section))
    return run


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "__first__"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]
    operations = [migrations.RunPython(_run("install"), _run("uninstall"))]
