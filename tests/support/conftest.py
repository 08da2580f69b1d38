from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from accounts.models import User
from orders.models import Order
from orders.services.placement import order_place
from tests.factories import OrderFactory, ServiceFactory, UserFactory, second_factor_confirmed


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """Each test starts with no ticket or message counted (the counters live in the shared cache)."""
    cache.clear()


@pytest.fixture
def customer(client: Client, alice: User) -> Client:
    """Alice's browser, signed in."""
    client.force_login(alice)
    return client


def staff_member(username: str, *groups: str) -> User:
    user = UserFactory.create(username=username, email=f"{username}@panel.example", is_staff=True)
    user.groups.add(*Group.objects.filter(name__in=groups))
    return User.objects.get(pk=user.pk)


def staff_browser(user: User) -> Client:
    """A client signed in as this staff member, past the second factor."""
    browser = Client()
    browser.force_login(user)
    return second_factor_confirmed(browser, user)


@pytest.fixture
def sue(db: None) -> User:
    """A staff member of the Support role (no superuser)."""
    return staff_member("sue", "Support")


@pytest.fixture
def tom(db: None) -> User:
    """Another staff member of the Support role."""
    return staff_member("tom", "Support")


@pytest.fixture
def refillable(alice: User) -> Order:
    """Alice's order of a refill service, delivered an hour ago: it allows a refill now."""
    service = ServiceFactory.create(name="Followers with refill", refill=True)
    return OrderFactory.create(user=alice, service=service, completed=True,
                               completed_at=timezone.now() - timedelta(hours=1))  # fmt: skip


@pytest.fixture
def unsent(alice: User) -> Order:
    """Alice's paid order that has not been sent upstream yet: she may cancel it, with a full refund."""
    service = ServiceFactory.create(name="Likes")
    return order_place(user=alice, service_id=service.pk, params={"link": "https://x.com/p/1", "quantity": "1000"})
