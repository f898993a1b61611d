from django.apps import AppConfig


class DjangoAuthdConfig(AppConfig):
    name = "django_authd"
    verbose_name = "django-authd configuration"
