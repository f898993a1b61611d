"""[database] from DATABASES[alias]."""
import os

from .sections import Section

ENGINES = {
    "django.db.backends.sqlite3": "sqlite3",
    "django.contrib.gis.db.backends.spatialite": "sqlite3",
    "django.db.backends.postgresql": "postgresql",
    "django.db.backends.postgresql_psycopg2": "postgresql",
    "django.contrib.gis.db.backends.postgis": "postgresql",
}

# OPTIONS that Django's PostgreSQL backend keeps for itself; every other key
# goes to libpq as a connection keyword, as psycopg does with it.
DJANGO_ONLY_OPTIONS = {"isolation_level", "server_side_binding", "pool", "assume_role", "cursor_factory"}


def conninfo_value(value):
    """A value as libpq's "key=value" syntax takes it: quoted when it has to be."""
    value = str(value)
    if value and not any(c.isspace() or c in "'\\" for c in value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def database_section(alias, db, password_file=None, include_password=False):
    """Returns (Section, password or None): the password to store in
    password_file, when one was asked for."""
    s = Section("database")
    engine = ENGINES.get(db.get("ENGINE", ""))
    if engine is None:
        s.warnings.append("DATABASES[%r] ENGINE %r: django-authd serves SQLite and PostgreSQL only"
                          % (alias, db.get("ENGINE", "")))
        return s, None
    s.set("engine", engine)
    if engine == "sqlite3":
        name = os.fspath(db.get("NAME") or "")
        if not name or name == ":memory:" or name.startswith("file:") or "mode=memory" in name:
            s.warnings.append("DATABASES[%r] NAME %r is not a database file" % (alias, name))
        else:
            if not os.path.isabs(name):
                s.notes.append("NAME %r is relative: made absolute from %s" % (name, os.getcwd()))
            s.set("name", os.path.abspath(name))
        return s, None
    return s, _postgresql(s, alias, db, password_file, include_password)


def _postgresql(s, alias, db, password_file, include_password):
    s.set("name", db.get("NAME"))
    s.set("user", db.get("USER"))
    s.set("host", db.get("HOST"))
    s.set("port", db.get("PORT"))
    options = []
    for key, value in (db.get("OPTIONS") or {}).items():
        if key in DJANGO_ONLY_OPTIONS:
            s.notes.append("OPTIONS %r is Django's own, not a connection keyword: left out" % key)
        elif key == "connect_timeout":
            s.set("connect_timeout", min(max(int(value), 1), 600))
        else:
            options.append("%s=%s" % (key, conninfo_value(value)))
    s.set("options", " ".join(options))
    s.notes.append("user is the site's own role; config/postgresql-roles.sql makes one that may read only"
                   " what the daemon needs")
    password = db.get("PASSWORD") or ""
    if not password:
        return None
    if include_password:
        s.set("password", password)
        s.notes.append("the password is in this file: keep it mode 0600, owned by root")
        return None
    if password_file:
        s.set("password_file", password_file)
        if "\n" in password or "\r" in password:
            s.warnings.append("the PASSWORD has a line break: django-authd reads the file's first line")
        return password
    s.set("password_file", "")
    s.notes.append("DATABASES[%r] has a PASSWORD, not written here: run again with "
                   "--password-file /etc/django-auth/db-password (or --include-password)" % alias)
    return None
