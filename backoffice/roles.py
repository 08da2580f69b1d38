"""Staff roles: the groups staff are put in, each with exactly the model permissions its job needs.

Superusers keep everything. Each admin action's declared permission decides who may run it: orders' operator
actions take orders.change_order; approving or rejecting a deposit billing.change_depositrequest; a wallet
adjustment billing.change_wallet; asking a gateway billing.change_payment; a refund billing.refund_payment;
collecting or writing off a debt billing.settle_debt; an order's later refund orders.refund_order; a payout of
affiliate earnings billing.pay_affiliate (an affiliate's percent, change_affiliateaccount); answering a ticket
support.add_message, assigning or closing it support.change_ticket (refilling, canceling or resending its orders
also orders.change_order); the catalog's actions (enable, disable, set markup, sync, test connection)
change_service or change_provider. No role deletes anything.
"""

from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS

ROLES: dict[str, tuple[str, ...]] = {
    # Customers' orders: look, resolve (resend, link, cancel with refund, mark Completed/Partial); refills and
    # cancel requests: look; customers: look; tickets: answer, assign, close, and keep the canned replies. No money
    # of its own, no prices.
    "Support": (
        "orders.view_order",
        "orders.change_order",
        "orders.view_refill",
        "orders.view_cancelrequest",
        "accounts.view_user",
        "backoffice.view_alert",
        "backoffice.change_alert",
        "support.view_ticket",
        "support.change_ticket",
        "support.add_message",
        "support.view_cannedreply",
        "support.add_cannedreply",
        "support.change_cannedreply",
    ),
    # Money: deposits (approve, reject), payments (ask the gateway, refund), wallets (adjust), the ledger (look),
    # debts (collect, write off), orders (look, refund later), affiliates (their percent, payouts; referrals and
    # commission reversals: look).
    # Payment methods and their gateway credentials stay with superusers.
    "Finance": (
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
        "orders.view_order",
        "orders.refund_order",
        "billing.view_affiliateaccount",
        "billing.change_affiliateaccount",
        "billing.pay_affiliate",
        "billing.view_referral",
        "billing.view_commissionreversal",
        "backoffice.view_alert",
    ),
    # What is sold and at what price: providers (add, edit, sync, test), categories (add, edit), services (edit,
    # enable, disable, markup; add the manual ones staff fulfil). No orders, no money.
    "Catalog": (
        "catalog.view_provider",
        "catalog.add_provider",
        "catalog.change_provider",
        "catalog.view_category",
        "catalog.add_category",
        "catalog.change_category",
        "catalog.view_service",
        "catalog.add_service",
        "catalog.change_service",
        "backoffice.view_alert",
    ),
}


def roles_apply(*, apps: Apps = global_apps, using: str = DEFAULT_DB_ALIAS) -> None:
    """Give each role's group exactly its permissions (creating the group, and the permissions first: Django makes
    them only after migrations). Idempotent; a role naming an unknown permission is an error, never fewer rights."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    labels = {name.split(".")[0] for names in ROLES.values() for name in names}
    for label in sorted(labels):
        create_permissions(global_apps.get_app_config(label), verbosity=0, using=using, apps=apps)
    for role, names in ROLES.items():
        wanted = {tuple(name.split(".")) for name in names}
        candidates = Permission.objects.using(using).filter(codename__in=[codename for _, codename in wanted])
        found = [
            p for p in candidates.select_related("content_type") if (p.content_type.app_label, p.codename) in wanted
        ]
        missing = wanted - {(p.content_type.app_label, p.codename) for p in found}
        if missing:
            raise ImproperlyConfigured(f"The {role} role names unknown permissions: {sorted(missing)}")
        group, _ = Group.objects.using(using).get_or_create(name=role)
        group.permissions.set(found)
