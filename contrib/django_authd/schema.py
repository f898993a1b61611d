"""[schema] from the user model (get_user_model()) and the models its groups
and permissions lead to, as Django's ORM names their tables and columns."""
from django.core.exceptions import FieldDoesNotExist

from .sections import IDENT, TABLE, Section

INTEGER_KEYS = {"AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField",
                "SmallIntegerField", "PositiveIntegerField", "PositiveBigIntegerField",
                "PositiveSmallIntegerField"}
TEXT_FIELDS = {"CharField", "TextField", "SlugField", "CICharField", "CIEmailField", "CITextField"}

# The keys in django-auth.conf's order.
ORDER = ["user_table", "user_id", "user_username", "user_password", "user_is_active", "user_is_staff",
         "user_is_superuser", "user_first_name", "user_last_name", "user_last_login", "group_table", "group_id",
         "group_name", "user_groups_table", "user_groups_user", "user_groups_group", "user_perms_table",
         "user_perms_user", "user_perms_perm", "group_perms_table", "group_perms_group", "group_perms_perm",
         "permission_table", "content_type_table", "totp_table", "totp_id", "totp_user", "totp_confirmed",
         "totp_key", "totp_step", "totp_t0", "totp_digits", "totp_tolerance", "totp_drift", "totp_last_t"]
# django-otp's TOTPDevice fields behind the totp_* keys ([otp] of django-auth.conf).
TOTP_FIELDS = [("totp_user", "user"), ("totp_confirmed", "confirmed"), ("totp_key", "key"), ("totp_step", "step"),
               ("totp_t0", "t0"), ("totp_digits", "digits"), ("totp_tolerance", "tolerance"),
               ("totp_drift", "drift"), ("totp_last_t", "last_t")]


def _field(model, name):
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def _totp(r, s):
    """The totp_* keys: django-otp's TOTPDevice as the site has it, or its
    stock names when django_otp.plugins.otp_totp is not installed."""
    from django.apps import apps
    try:
        model = apps.get_model("otp_totp", "TOTPDevice")
    except LookupError:
        s.set("totp_table", "otp_totp_totpdevice")
        s.set("totp_id", "id")
        for key, name in TOTP_FIELDS:
            s.set(key, name + "_id" if name == "user" else name)
        return
    r.table("totp_table", model)
    s.set("totp_id", model._meta.pk.column)
    for key, name in TOTP_FIELDS:
        r.column(key, model, name)


class _Reader:
    def __init__(self, section, user_model):
        self.s = section
        self.user = user_model

    def table(self, key, model):
        self.s.set(key, model._meta.db_table)

    def column(self, key, model, name, optional=False, flag=False):
        """The column of model's field `name`; empty (with a word when the
        model computes it in Python) or a warning when there is none."""
        f = _field(model, name)
        if f is not None and f.concrete and not f.many_to_many:
            if f not in model._meta.local_concrete_fields:
                self.s.warnings.append("%s.%s is stored in a parent model's table (multi-table inheritance):"
                                       " django-authd reads one user table" % (model.__name__, name))
            self.s.set(key, f.column)
            return f
        self.s.set(key, "")
        what = "%s.%s" % (model.__name__, name)
        if not optional:
            self.s.warnings.append("%s is not a database column, and django-authd needs one" % what)
        elif flag and isinstance(getattr(model, name, None), property):
            self.s.warnings.append("%s is computed in Python; django-authd takes it as %s"
                                   % (what, "true" if name == "is_active" else "false"))
        elif flag and name == "is_active" and getattr(model, name, True) is not True:
            self.s.warnings.append("%s is not a column and not True: django-authd takes every user as active" % what)
        elif flag:
            self.s.notes.append("%s is no column: django-authd takes it as %s" % (what, (
                "true for every user, as Django's ModelBackend does" if name == "is_active"
                else "false for every user")))
        return None

    def m2m(self, keys, model, name, target_label):
        """A many-to-many field: its through table and its two columns, under
        keys (table, this side, the other side); returns the model it leads
        to, or None."""
        f = _field(model, name)
        if f is None or not f.many_to_many:
            self.s.warnings.append("%s has no %r many-to-many field (PermissionsMixin gives it one);"
                                   " django-authd needs the table" % (model.__name__, name))
            return None
        target = f.remote_field.model
        if target._meta.label != target_label:
            self.s.warnings.append("%s.%s leads to %s, not %s" % (model.__name__, name, target._meta.label,
                                                                  target_label))
        for key, value in zip(keys, (f.remote_field.through._meta.db_table, f.m2m_column_name(),
                                     f.m2m_reverse_name())):
            self.s.set(key, value)
        return target

def schema_section(user_model):
    s = Section("schema")
    r = _Reader(s, user_model)
    meta = user_model._meta
    r.table("user_table", user_model)
    s.set("user_id", meta.pk.column)
    if meta.pk.get_internal_type() not in INTEGER_KEYS:
        s.warnings.append("the primary key %s.%s is of type %s: uids come from an integer id"
                          % (user_model.__name__, meta.pk.name, meta.pk.get_internal_type()))
    username = r.column("user_username", user_model, user_model.USERNAME_FIELD)
    if username is not None and username.get_internal_type() not in TEXT_FIELDS:
        s.warnings.append("USERNAME_FIELD %r is of type %s: django-authd maps a text column to user names"
                          % (user_model.USERNAME_FIELD, username.get_internal_type()))
    r.column("user_password", user_model, "password")
    for name in ("is_active", "is_staff", "is_superuser"):
        r.column("user_" + name, user_model, name, optional=True, flag=True)
    for name in ("first_name", "last_name", "last_login"):
        r.column("user_" + name, user_model, name, optional=True)

    group = r.m2m(("user_groups_table", "user_groups_user", "user_groups_group"), user_model, "groups",
                  "auth.Group")
    if group is not None:
        r.table("group_table", group)
        s.set("group_id", group._meta.pk.column)
        r.column("group_name", group, "name")
        r.m2m(("group_perms_table", "group_perms_group", "group_perms_perm"), group, "permissions",
              "auth.Permission")
    permission = r.m2m(("user_perms_table", "user_perms_user", "user_perms_perm"), user_model,
                       "user_permissions", "auth.Permission")
    if permission is not None:
        r.table("permission_table", permission)
        ct = _field(permission, "content_type")
        if ct is not None:
            r.table("content_type_table", ct.remote_field.model)

    _totp(r, s)

    s.keys = {k: s.keys[k] for k in ORDER if k in s.keys}
    for key, value in s.keys.items():
        pattern = TABLE if key.endswith("_table") else IDENT
        if value and not pattern.match(value):
            s.warnings.append("%s %r is not a plain SQL identifier, which django-authd requires" % (key, value))
    return s
