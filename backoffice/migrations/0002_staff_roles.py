"""The staff roles Support, Finance and Catalog as Django groups, with exactly the permissions their jobs need.

The lists are frozen here as they were when the roles were made (a migration never imports code that changes);
backoffice.roles holds the current definition and BackofficeConfig puts the groups right after every migrate.
Django creates permissions only after all migrations ran, so this creates the ones it needs first.
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "Support": [
        "orders.view_order",
        "orders.change_order",
        "orders.view_refill",
        "orders.view_cancelrequest",
        "accounts.view_user",
        "backoffice.view_alert",
        "backoffice.change_alert",
    ],
    "Finance": [
        "billing.view_depositrequest",
        "billing.change_depositrequest",
        "billing.view_payment",
        "billing.change_payment",
        "billing.refund_payment",
        "billing.view_wallet",
        "billing.change_wallet",
        "billing.view_ledgerentry",
        "billing.view_paymentreversal",
        "billing.settle_debt",
        "backoffice.view_alert",
    ],
    "Catalog": [
        "catalog.view_provider",
        "catalog.add_provider",
        "catalog.change_provider",
        "catalog.view_category",
        "catalog.add_category",
        "catalog.change_category",
        "catalog.view_service",
        "catalog.change_service",
        "backoffice.view_alert",
    ],
}


def create_roles(apps, schema_editor):
    using = schema_editor.connection.alias
    for label in ("accounts", "backoffice", "billing", "catalog", "orders"):
        create_permissions(global_apps.get_app_config(label), verbosity=0, using=using, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in ROLES.items():
        permissions = []
        for name in names:
            app_label, codename = name.split(".")
            permissions.append(
                Permission.objects.using(using).get(content_type__app_label=app_label, codename=codename)
            )
        group, _ = Group.objects.using(using).get_or_create(name=role)
        group.permissions.set(permissions)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.using(schema_editor.connection.alias).filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("accounts", "0004_language_time_zone"),
        ("billing", "0008_payments"),
        ("catalog", "0005_provider_health_and_price_history"),
        ("orders", "0004_status_labels"),
        ("backoffice", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
