"""factory_boy factories, all in one place."""

from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from accounts.models import User
from billing.models import DepositRequest, PaymentMethod
from catalog.models import Category, Provider, Service
from orders.models import Order


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class ProviderFactory(DjangoModelFactory[Provider]):
    class Meta:
        model = Provider

    name = factory.Sequence(lambda n: f"Provider {n}")
    api_url = "http://127.0.0.1:9/api/v2"
    api_key = factory.Sequence(lambda n: f"provider-key-{n:08d}")


class CategoryFactory(DjangoModelFactory[Category]):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")


class ServiceFactory(DjangoModelFactory[Service]):
    class Meta:
        model = Service

    provider = factory.SubFactory(ProviderFactory)
    category = factory.SubFactory(CategoryFactory)
    upstream_id = factory.Sequence(lambda n: n + 1)
    upstream_name = factory.Sequence(lambda n: f"Service {n}")
    name = factory.SelfAttribute("upstream_name")
    upstream_rate = Decimal("1.000000")
    min_quantity = 10
    max_quantity = 10000
    rate = Decimal("1.500000")


class OrderFactory(DjangoModelFactory[Order]):
    """An order as placed, without its charge: tests that move money post the charge with billing.services."""

    class Meta:
        model = Order

    user = factory.SubFactory(UserFactory)
    service = factory.SubFactory(ServiceFactory)
    provider = factory.SelfAttribute("service.provider")
    upstream_service_id = factory.SelfAttribute("service.upstream_id")
    link = factory.Sequence(lambda n: f"https://instagram.com/p/{n}")
    quantity = 1000
    rate = Decimal("1.500000")
    charge = Decimal("1.50000")
    cost = Decimal("1.00000")


class PaymentMethodFactory(DjangoModelFactory[PaymentMethod]):
    class Meta:
        model = PaymentMethod

    name = factory.Sequence(lambda n: f"Bank transfer {n}")
    instructions = "IBAN XX00 1234 5678\nWrite your username as the payment's message."
    minimum = Decimal("10.00000")


class DepositRequestFactory(DjangoModelFactory[DepositRequest]):
    """A pending deposit request."""

    class Meta:
        model = DepositRequest

    user = factory.SubFactory(UserFactory)
    method = factory.SubFactory(PaymentMethodFactory)
    amount = Decimal("25.00000")
    reference = factory.Sequence(lambda n: f"TX-{n:06d}")
