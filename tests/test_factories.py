"""tests/factories.py: a factory for every model of the panel, each making a row the models accept as it is."""

from decimal import Decimal

import pytest
from django.apps import apps
from django.db import models
from factory.django import DjangoModelFactory

from accounts.services import api_key_user
from billing.models import LedgerEntry, Wallet
from billing.services import ledger_mismatches
from orders.models import Order
from tests import factories

pytestmark = pytest.mark.django_db

PANEL_APPS = ("accounts", "api", "billing", "catalog", "notifications", "orders", "support")
FACTORIES = [
    value
    for value in vars(factories).values()
    if isinstance(value, type) and issubclass(value, DjangoModelFactory) and value._meta.model is not None
]


def test_every_model_of_the_panel_has_a_factory():
    panel_models = {model for app in PANEL_APPS for model in apps.get_app_config(app).get_models()}
    assert panel_models - {factory._meta.model for factory in FACTORIES} == set()


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda factory: factory.__name__)
def test_each_factory_makes_a_valid_row(factory):
    row = factory.create()
    assert isinstance(row, models.Model) and row.pk is not None
    row.full_clean()
    assert factory.create().pk != row.pk  # and a second one, that clashes with nothing


def test_an_api_key_from_the_factory_opens_the_api_with_its_secret():
    key = factories.ApiKeyFactory.create(secret="a-secret-of-our-own")
    assert api_key_user(key=f"{key.prefix}a-secret-of-our-own") == key.user
    assert api_key_user(key=f"{key.prefix}another-secret") is None


def test_ledger_entries_from_the_factory_move_the_wallet_with_them(alice):
    order = factories.OrderFactory.create(user=alice, charge=Decimal("1.50000"))
    wallet = Wallet.objects.get(user=alice)
    charge = factories.LedgerEntryFactory.create(
        wallet=wallet, kind=LedgerEntry.Kind.CHARGE, amount=Decimal("-1.50000"), order=order
    )
    refund = factories.LedgerEntryFactory.create(
        wallet=wallet, kind=LedgerEntry.Kind.REFUND, amount=Decimal("1.50000"), order=order
    )
    credit = factories.LedgerEntryFactory.create(wallet=wallet, note="goodwill")
    assert [(e.kind, e.amount, e.balance_after) for e in (charge, refund, credit)] == [
        ("charge", Decimal("-1.50000"), Decimal("98.50000")),
        ("refund", Decimal("1.50000"), Decimal("100.00000")),
        ("deposit", Decimal("10.00000"), Decimal("110.00000")),
    ]
    assert Wallet.objects.get(user=alice).balance == Decimal("110.00000")
    assert list(ledger_mismatches()) == []


def test_refills_and_cancel_requests_default_to_orders_that_allow_them():
    refill, cancel = factories.RefillFactory.create(), factories.CancelRequestFactory.create()
    assert (refill.status, refill.order.status, refill.order.submission) == ("queued", "Completed", "sent")
    assert (cancel.status, cancel.order.status, cancel.order.submission) == ("queued", "Pending", "sent")
    assert refill.order.upstream_id is not None and cancel.order.upstream_id is not None
    assert Order.objects.count() == 2
