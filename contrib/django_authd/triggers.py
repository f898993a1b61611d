"""The PostgreSQL NOTIFY triggers that tell django-authd what changed
(daemon/invalidation.h), from sql/notify_triggers.sql: the one copy of the
SQL, which `django-authctl install-triggers --print` prints with the [schema]
names of its configuration, and this app's migration runs with the names of
the site's models."""
import pathlib
import re

from django.contrib.auth import get_user_model

from .schema import schema_section

TEMPLATE = pathlib.Path(__file__).resolve().parent / "sql" / "notify_triggers.sql"
PLACEHOLDER = re.compile(r"\{([qs]):([a-z_]+)\}")


def _part(section):
    text = TEMPLATE.read_text()
    start = text.index("-- @@%s\n" % section) + len("-- @@%s\n" % section)
    end = text.find("-- @@", start)
    return text[start:] if end < 0 else text[start:end]


def render(section, names, quote_name):
    """The template's `section` ("install" or "uninstall") with {q:KEY} as
    quote_name of each dotted part of names[KEY], {s:KEY} as a literal."""
    def fill(m):
        value = names[m.group(2)]
        if m.group(1) == "q":
            return ".".join(quote_name(p) for p in value.split("."))
        # [schema] names are plain identifiers: nothing to escape.
        return "'%s'" % value
    return PLACEHOLDER.sub(fill, _part(section))


# The SSH key table (django-auth.conf [ssh]): django-sshkey's, the daemon's
# default; its triggers are made only where the table exists.
KEY_TABLE = {"key_table": "sshkey_userkey", "key_user": "user_id"}


def sql_for(connection, section):
    """The SQL of `section` for the site's user model, on `connection`."""
    return render(section, dict(KEY_TABLE, **schema_section(get_user_model()).keys), connection.ops.quote_name)
