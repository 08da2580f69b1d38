"""What operators are told (alerts, one per incident) and what staff did (the audit trail, never edited)."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Alert(models.Model):
    """One incident operators were told of. `key` names the incident (an order's UNKNOWN, a provider's low
    balance): while an alert with that key is open no second one is sent; resolving it lets the next one through."""

    class Kind(models.TextChoices):
        ORDER_UNKNOWN = "order_unknown", "Order in an unknown state"
        PROVIDER_LOW_BALANCE = "provider_low_balance", "Provider low on balance"
        PROVIDER_FAILING = "provider_failing", "Provider failing"
        SERVICE_DISABLED = "service_disabled", "Service disabled by a sync"
        ROUTE_QUARANTINED = "route_quarantined", "Route quarantined"
        LEDGER_MISMATCH = "ledger_mismatch", "Ledger mismatch"
        PAYMENT_DISPUTE = "payment_dispute", "Payment disputed or taken back"
        AFFILIATE_DEBT = "affiliate_debt", "Referrer owes reversed commission"

    kind = models.CharField(max_length=40, choices=Kind.choices)
    key = models.CharField(max_length=200)
    subject = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    url = models.CharField("admin page", max_length=500, blank=True, help_text="Where it is resolved.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    telegram_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=Q(resolved_at__isnull=True), name="alert_one_open_per_key"
            )
        ]

    def __str__(self) -> str:
        return self.subject


class AuditEntry(models.Model):
    """One staff action: who, when, what, on which record, and the values before and after. Append-only."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=100, db_index=True)
    target_type = models.CharField(max_length=100, db_index=True, help_text="app_label.model")
    target_id = models.CharField(max_length=64, db_index=True)
    target_repr = models.CharField(max_length=300)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target_repr}"
