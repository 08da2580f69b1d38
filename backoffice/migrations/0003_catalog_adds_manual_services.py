"""The Catalog role also adds services: the manual ones, which staff fulfil themselves (a provider's services come
from its catalog). Frozen here as a change of 0002's roles; backoffice.roles holds the current definition."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

ADDED = {"Catalog": ["catalog.add_service"]}


def _permissions(apps, using):
    create_permissions(global_apps.get_app_config("catalog"), verbosity=0, using=using, apps=apps)
    Permission = apps.get_model("auth", "Permission")
    for role, names in ADDED.items():
        for name in names:
            app_label, codename = name.split(".")
            yield role, Permission.objects.using(using).get(content_type__app_label=app_label, codename=codename)


def grant(apps, schema_editor):
    using = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    for role, permission in _permissions(apps, using):
        Group.objects.using(using).get_or_create(name=role)[0].permissions.add(permission)


def revoke(apps, schema_editor):
    using = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    for role, permission in _permissions(apps, using):
        for group in Group.objects.using(using).filter(name=role):
            group.permissions.remove(permission)


class Migration(migrations.Migration):
    dependencies = [("backoffice", "0002_staff_roles"), ("catalog", "0006_manual_services")]

    operations = [migrations.RunPython(grant, revoke)]
