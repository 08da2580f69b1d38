"""The Finance role also refunds final orders later, and runs the affiliate program: an affiliate's percent,
payouts of their earnings, and who referred whom. Frozen here as a change of the roles before it;
backoffice.roles holds the current definition."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

ADDED = {
    "Finance": [
        "orders.view_order",
        "orders.refund_order",
        "billing.view_affiliateaccount",
        "billing.change_affiliateaccount",
        "billing.pay_affiliate",
        "billing.view_referral",
    ]
}


def _permissions(apps, using):
    for label in ("orders", "billing"):
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
        ("backoffice", "0004_support_answers_tickets"),
        ("billing", "0010_referrals_fixed"),
        ("orders", "0008_order_refund_permission"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
