"""Reading a balance never writes; every user gets a wallet from billing when created."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from billing.models import Wallet
from billing.selectors import wallet_balance
from billing.services import wallet_credit
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_it_reads_the_balance_in_one_query_without_writing(alice):
    with CaptureQueriesContext(connection) as queries:
        assert wallet_balance(user_id=alice.pk) == Decimal(100)
    assert len(queries) == 1 and queries[0]["sql"].lstrip().upper().startswith("SELECT")


def test_a_user_without_a_wallet_has_nothing_and_reading_creates_none():
    # A bulk insert skips signals: such a user has no wallet until money first moves.
    User.objects.bulk_create([User(username="bulk")])
    bulk = User.objects.get(username="bulk")
    assert wallet_balance(user_id=bulk.pk) == 0
    assert not Wallet.objects.filter(user=bulk).exists()
    wallet_credit(user=bulk, amount=Decimal(5))
    assert wallet_balance(user_id=bulk.pk) == Decimal(5)


def test_every_new_user_gets_an_empty_wallet():
    carol = UserFactory.create(username="carol")
    assert Wallet.objects.get(user=carol).balance == 0


@pytest.mark.django_db(transaction=True)
def test_the_migration_opens_a_wallet_for_every_user_without_one(migrate):
    migrate([("billing", "0005_deposit_one_open_request_per_reference")])
    User.objects.bulk_create([User(username="old-timer")])
    wallets = migrate([("billing", "0006_open_missing_wallets")]).get_model("billing", "Wallet")
    assert wallets.objects.get(user__username="old-timer").balance == 0
