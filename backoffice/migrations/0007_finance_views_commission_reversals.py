"""The Finance role also looks at what later refunds took back of referrers' commissions. Frozen here as a change
of the roles before it; backoffice.roles holds the current definition."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

ADDED = {"Finance": ["billing.view_commissionreversal"]}


def _permissions(apps, using):
    for label in ("billing",):
        create_permissions(global_apps.get_app_config(label), verbosity=0, using=using, apps=apps)
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
    dependencies = [
        ("backoffice", "0006_alert_kind_affiliate_debt"),
        ("billing", "0011_ledger_entry_once_and_commission_reversals"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
