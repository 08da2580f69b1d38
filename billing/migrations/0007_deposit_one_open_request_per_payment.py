"""One open deposit request per payment, whoever asks: a reference is unique per method among pending and approved
requests once trimmed, NFKC-folded and case-folded (reference_key), instead of per customer and letter for letter.

Existing requests get their key. Where several open ones are about one payment, the first approved one (or, when
none is, the oldest pending one) stands for it; the other pending ones are rejected with a note the customer sees,
and no money moves. A later approved one was credited already: it keeps its status and its money (an operator
settles that with an adjustment, if it was a second credit for one payment) but holds no key (NULL), so that the
constraint can be created and the first one goes on blocking the reference.
"""

import unicodedata

from django.db import migrations, models
from django.utils import timezone

KEY_MAX_LENGTH = 800
DUPLICATE_NOTE = "Another request was already about this payment (same method and reference)."


def _key(reference):
    # As billing.models.reference_key when this migration was written.
    return unicodedata.normalize("NFKC", reference).strip().casefold()[:KEY_MAX_LENGTH]


def fill_keys(apps, schema_editor):
    DepositRequest = apps.get_model("billing", "DepositRequest")
    standing = set()
    changed = []
    now = timezone.now()
    for status in ("approved", "pending", "rejected"):
        for deposit in DepositRequest.objects.filter(status=status).order_by("pk").iterator():
            deposit.reference_key = _key(deposit.reference)
            payment = (deposit.method_id, deposit.reference_key)
            if status == "approved" and payment in standing:
                deposit.reference_key = None
            elif status == "pending" and payment in standing:
                deposit.status, deposit.note, deposit.decided_at = "rejected", DUPLICATE_NOTE, now
            elif status != "rejected":
                standing.add(payment)
            changed.append(deposit)
    DepositRequest.objects.bulk_update(
        changed, ["reference_key", "status", "note", "decided_at"], batch_size=1000
    )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0006_open_missing_wallets"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="depositrequest",
            name="deposit_one_open_request_per_reference",
        ),
        migrations.AddField(
            model_name="depositrequest",
            name="reference_key",
            field=models.CharField(editable=False, max_length=KEY_MAX_LENGTH, null=True),
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="depositrequest",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", ["pending", "approved"])),
                fields=("method", "reference_key"),
                name="deposit_one_open_request_per_payment",
            ),
        ),
        migrations.AddConstraint(
            model_name="depositrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("reference_key__gt", ""), models.Q(("reference_key__isnull", True), ("status", "approved")),
                    _connector="OR",
                ),
                name="deposit_reference_key_set",
            ),
        ),
    ]
