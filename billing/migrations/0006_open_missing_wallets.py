"""Every user has a wallet from now on (billing opens it when the user is created): open the missing ones."""

from django.db import migrations


def open_missing_wallets(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    Wallet = apps.get_model("billing", "Wallet")
    missing = User.objects.filter(wallet__isnull=True).values_list("pk", flat=True)
    Wallet.objects.bulk_create([Wallet(user_id=pk) for pk in missing.iterator()], batch_size=1000, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_language_time_zone"),
        ("billing", "0005_deposit_one_open_request_per_reference"),
    ]

    operations = [migrations.RunPython(open_missing_wallets, migrations.RunPython.noop)]
