"""django_authd: writes the [database], [schema] and [passwords] sections of
django-authd's configuration from a Django site's own settings
(python manage.py authd_config)."""
