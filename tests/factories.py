"""factory_boy factories, all in one place: one per model (tests/test_factories.py checks that none is missing)."""

import hashlib
from datetime import date
from decimal import Decimal
from typing import Any

import factory
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from factory.django import DjangoModelFactory

from accounts.models import ApiKey, User
from api.models import StaffToken
from backoffice.models import AuditEntry
from billing.models import (
    AffiliateAccount,
    CommissionReversal,
    DepositRequest,
    LedgerEntry,
    Payment,
    PaymentMethod,
    PaymentReversal,
    Referral,
    ReferralVisits,
    Wallet,
    reference_key,
)
from catalog.models import Category, Provider, Route, Service, ServicePrice
from catalog.services.routes import route_for
from notifications.models import Notification, NotificationPreferences
from orders.models import CancelRequest, ForwardAttempt, IdempotencyKey, Order, Refill
from support.models import CannedReply, Message, Ticket


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class TOTPDeviceFactory(DjangoModelFactory[TOTPDevice]):
    """A confirmed authenticator app; compute its codes with django_otp.oath.totp(device.bin_key)."""

    class Meta:
        model = TOTPDevice

    user = factory.SubFactory(UserFactory)
    name = "Authenticator app"
    confirmed = True


def second_factor_confirmed(client: Client, user: User) -> Client:
    """The client's session (signed in as `user`) past its second factor, as if the user had entered a code."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDeviceFactory.create(user=user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


class AccessAttemptFactory(DjangoModelFactory[AccessAttempt]):
    """A sign-in attempt as django-axes records it (failed, for a username from an address)."""

    class Meta:
        model = AccessAttempt

    username = factory.Sequence(lambda n: f"guess{n}")
    ip_address = "198.51.100.7"
    user_agent = "pytest"
    http_accept = "*/*"
    path_info = "/accounts/login/"
    get_data = "next=/"
    post_data = factory.LazyAttribute(lambda attempt: f"username={attempt.username}")
    failures_since_start = 1


class ApiKeyFactory(DjangoModelFactory[ApiKey]):
    """A customer's API key. Only its hash is stored: the key a client sends is `prefix + secret`, with the secret
    given as a parameter (`ApiKeyFactory.create(secret="...")`). Real keys come from accounts.services.api_key_issue.
    """

    class Meta:
        model = ApiKey

    class Params:
        secret = factory.Sequence(lambda n: f"test-secret-{n:08d}")

    user = factory.SubFactory(UserFactory)
    prefix = factory.Sequence(lambda n: f"{n:012x}")  # the 12 characters a key is looked up by
    secret_hash = factory.LazyAttribute(lambda key: _sha256(key.secret))


class StaffTokenFactory(DjangoModelFactory[StaffToken]):
    """A staff member's token for the staff API, stored hashed like an API key: the token a client sends is
    `prefix + secret`. Real tokens come from api.staff.tokens.staff_token_issue."""

    class Meta:
        model = StaffToken

    class Params:
        secret = factory.Sequence(lambda n: f"staff-secret-{n:08d}")

    user = factory.SubFactory(UserFactory, is_staff=True)
    prefix = factory.Sequence(lambda n: f"{n:012x}")
    secret_hash = factory.LazyAttribute(lambda token: _sha256(token.secret))


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

    @classmethod
    def _create(cls, model_class: type[Service], *args: Any, **kwargs: Any) -> Service:
        """A provider's service has its upstream service as its only route, as the sync makes it."""
        service: Service = super()._create(model_class, *args, **kwargs)
        if service.provider_id is not None:
            route_for(service).save()
        return service


class RouteFactory(DjangoModelFactory[Route]):
    """A failover route of a service through another provider (the service's first route comes with it)."""

    class Meta:
        model = Route

    service = factory.SubFactory(ServiceFactory)
    provider = factory.SubFactory(ProviderFactory)
    upstream_id = factory.Sequence(lambda n: n + 1)
    priority = 1
    upstream_rate = Decimal("1.000000")
    min_quantity = 10
    max_quantity = 10000


class OrderFactory(DjangoModelFactory[Order]):
    """An order as placed, without its charge: tests that move money post the charge with billing.services.

    `sent=True` gives it an upstream id; `completed=True` also has the provider deliver it all just now.
    """

    class Meta:
        model = Order

    class Params:
        sent = factory.Trait(submission=Order.Submission.SENT, upstream_id=factory.Sequence(lambda n: 700_000 + n))
        completed = factory.Trait(
            sent=True, status=Order.Status.COMPLETED, remains=0, completed_at=factory.LazyFunction(timezone.now)
        )

    user = factory.SubFactory(UserFactory)
    service = factory.SubFactory(ServiceFactory)
    provider = factory.SelfAttribute("service.provider")
    upstream_service_id = factory.SelfAttribute("service.upstream_id")
    link = factory.Sequence(lambda n: f"https://instagram.com/p/{n}")
    quantity = 1000
    rate = Decimal("1.500000")
    charge = Decimal("1.50000")
    cost = Decimal("1.00000")


class ForwardAttemptFactory(DjangoModelFactory[ForwardAttempt]):
    """One try of an order on its first route, refused for now."""

    class Meta:
        model = ForwardAttempt

    order = factory.SubFactory(OrderFactory)
    route = factory.LazyAttribute(lambda attempt: attempt.order.service.routes.first())
    provider = factory.SelfAttribute("order.provider")
    upstream_service_id = factory.SelfAttribute("order.upstream_service_id")
    outcome = ForwardAttempt.Outcome.HELD
    message = "Not enough funds on balance"


class RefillFactory(DjangoModelFactory[Refill]):
    """A refill a customer asked for, queued to go upstream; by default of a completed order of its own."""

    class Meta:
        model = Refill

    order = factory.SubFactory(OrderFactory, completed=True)


class CancelRequestFactory(DjangoModelFactory[CancelRequest]):
    """A cancel request a customer made, queued to go upstream; by default of a sent order of its own."""

    class Meta:
        model = CancelRequest

    order = factory.SubFactory(OrderFactory, sent=True)


class IdempotencyKeyFactory(DjangoModelFactory[IdempotencyKey]):
    """An API `add` remembered by its idempotency key, with the order it created for the same customer."""

    class Meta:
        model = IdempotencyKey

    order = factory.SubFactory(OrderFactory)
    user = factory.SelfAttribute("order.user")
    key = factory.Sequence(lambda n: f"idempotency-key-{n}")
    fingerprint = factory.LazyAttribute(lambda row: _sha256(f"fingerprint of {row.key}"))


class WalletFactory(DjangoModelFactory[Wallet]):
    """A customer's wallet, empty: money only gets in through billing.services (or LedgerEntryFactory)."""

    class Meta:
        model = Wallet
        django_get_or_create = ["user"]

    user = factory.SubFactory(UserFactory)


class LedgerEntryFactory(DjangoModelFactory[LedgerEntry]):
    """One movement of money, posted through billing.services like every real one, so that the wallet moves with
    its ledger: a positive amount is credited, a negative one debited, a refund refunds `order`. The service
    computes balance_after."""

    class Meta:
        model = LedgerEntry

    wallet = factory.SubFactory(WalletFactory)
    kind = LedgerEntry.Kind.DEPOSIT
    amount = Decimal("10.00000")  # signed, as stored
    order = None
    actor = None
    note = ""

    @classmethod
    def _create(cls, model_class: type[LedgerEntry], *args: Any, **kwargs: Any) -> LedgerEntry:
        from billing.services import refund_issue, wallet_credit, wallet_debit

        wallet, kind, amount = kwargs.pop("wallet"), kwargs.pop("kind"), kwargs.pop("amount")
        order, actor, note = kwargs.pop("order"), kwargs.pop("actor"), kwargs.pop("note")
        if args or kwargs:
            raise TypeError(f"LedgerEntryFactory posts through billing.services and cannot set {sorted(kwargs)}")
        if kind == LedgerEntry.Kind.REFUND:
            refund = refund_issue(order=order, amount=amount, note=note)
            if refund is None:
                raise ValueError(f"nothing to refund on {order}")
            return refund
        if amount > 0:
            if order is not None:
                raise ValueError("a credit belongs to no order")
            return wallet_credit(user=wallet.user, amount=amount, kind=kind, actor=actor, note=note)
        return wallet_debit(user=wallet.user, amount=-amount, kind=kind, order=order, actor=actor, note=note)


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
    reference_key = factory.LazyAttribute(lambda deposit: reference_key(deposit.reference))


class StripeMethodFactory(PaymentMethodFactory):
    """Card payments through Stripe; point STRIPE_API_BASE at localstripe (tests/billing/conftest.py) to use it."""

    name = factory.Sequence(lambda n: f"Card {n}")
    gateway = PaymentMethod.Gateway.STRIPE
    instructions = ""
    minimum = Decimal("5.00000")
    credentials = factory.LazyFunction(
        lambda: {"secret_key": "sk_test_panel", "publishable_key": "pk_test_panel", "webhook_secret": "whsec_panel"}
    )


CRYPTOMUS_MERCHANT_ID = "8b03432e-385b-4670-8d06-064591096795"
CRYPTOMUS_PAYMENT_KEY = "cmk-test-0123456789abcdef"


class CryptomusMethodFactory(PaymentMethodFactory):
    """Crypto payments through Cryptomus; the `cryptomus` fixture (tests/billing/conftest.py) is its API."""

    name = factory.Sequence(lambda n: f"Crypto {n}")
    gateway = PaymentMethod.Gateway.CRYPTOMUS
    instructions = ""
    minimum = Decimal("5.00000")
    credentials = factory.LazyFunction(
        lambda: {"merchant_id": CRYPTOMUS_MERCHANT_ID, "payment_key": CRYPTOMUS_PAYMENT_KEY}
    )


class PaymentFactory(DjangoModelFactory[Payment]):
    """A payment started at its gateway and waiting to be paid (nothing credited: see payment_credit)."""

    class Meta:
        model = Payment

    user = factory.SubFactory(UserFactory)
    method = factory.SubFactory(StripeMethodFactory)
    gateway = factory.LazyAttribute(lambda payment: payment.method.gateway)
    reference = factory.Sequence(lambda n: f"pi_test{n:08d}")
    amount = Decimal("25.00000")
    currency = "USD"
    state = Payment.State.PENDING


class PaymentReversalFactory(DjangoModelFactory[PaymentReversal]):
    """A refund of a credited payment, posted through payment_reverse like every real one (the wallet moves)."""

    class Meta:
        model = PaymentReversal

    payment = factory.SubFactory(PaymentFactory)
    kind = PaymentReversal.Kind.REFUND
    reference = factory.Sequence(lambda n: f"re_test{n:08d}")
    amount = Decimal("25.00000")

    @classmethod
    def _create(cls, model_class: type[PaymentReversal], *args: Any, **kwargs: Any) -> PaymentReversal:
        from billing.payments.services import payment_credit, payment_reverse

        payment = kwargs.pop("payment")
        payment_credit(payment_id=payment.pk)
        reversal = payment_reverse(payment_id=payment.pk, **kwargs)
        if reversal is None:
            raise ValueError(f"nothing to reverse on {payment}")
        return reversal


class CommissionReversalFactory(DjangoModelFactory[CommissionReversal]):
    """What a later refund took back of a referrer's commission, made as real ones are: a referred customer's order
    completes (the commission is paid), then an operator refunds it all later."""

    class Meta:
        model = CommissionReversal

    referral = factory.SubFactory("tests.factories.ReferralFactory")

    @classmethod
    def _create(cls, model_class: type[CommissionReversal], *args: Any, **kwargs: Any) -> CommissionReversal:
        from billing.services import order_charge, wallet_credit
        from orders.services.lifecycle import order_close
        from orders.services.operators import order_refund_later

        referral = kwargs.pop("referral")
        if args or kwargs:
            raise TypeError(f"CommissionReversalFactory follows a later refund and cannot set {sorted(kwargs)}")
        customer = referral.referred
        wallet_credit(user=customer, amount=Decimal(10))
        order = OrderFactory.create(user=customer, sent=True)
        order_charge(order=order)
        order_close(order=order, status=Order.Status.COMPLETED, note="")
        staff = UserFactory.create(is_staff=True)
        refund = order_refund_later(order_id=order.pk, amount=None, actor=staff, note="Dropped after delivery")
        return CommissionReversal.objects.get(refund=refund)


class ServicePriceFactory(DjangoModelFactory[ServicePrice]):
    """A service's price from a moment on (what catalog.services.listings records when a price changes)."""

    class Meta:
        model = ServicePrice

    service = factory.SubFactory(ServiceFactory)
    rate = Decimal("1.500000")
    cost = Decimal("1.000000")
    valid_from = factory.LazyFunction(timezone.now)


class AuditEntryFactory(DjangoModelFactory[AuditEntry]):
    """A staff action in the audit trail, as backoffice.audit.audit_record writes it (a markup change)."""

    class Meta:
        model = AuditEntry

    actor = factory.SubFactory(UserFactory, is_staff=True)
    action = "service.price"
    target_type = "catalog.service"
    target_id = factory.Sequence(str)
    target_repr = factory.LazyAttribute(lambda entry: f"Service {entry.target_id}")
    before = factory.LazyFunction(lambda: {"markup_percent": None, "rate": "1.500000"})
    after = factory.LazyFunction(lambda: {"markup_percent": "100.00", "rate": "2.000000"})


class NotificationFactory(DjangoModelFactory[Notification]):
    """An order that ended (Completed), told to its customer, unread; notifications.services records real ones."""

    class Meta:
        model = Notification

    order = factory.SubFactory(OrderFactory, completed=True)
    user = factory.SelfAttribute("order.user")
    kind = Notification.Kind.ORDER_ENDED
    status = factory.SelfAttribute("order.status")


class NotificationPreferencesFactory(DjangoModelFactory[NotificationPreferences]):
    """A customer's email choices as saved from the account page (the defaults)."""

    class Meta:
        model = NotificationPreferences

    user = factory.SubFactory(UserFactory)


class TicketFactory(DjangoModelFactory[Ticket]):
    """An open ticket as a customer opened it (about something else than an order), with their first message.

    Real tickets come from support.services.ticket_open, which checks, rate limits and mails."""

    class Meta:
        model = Ticket
        skip_postgeneration_save = True  # the related first message needs no second save of the ticket

    customer = factory.SubFactory(UserFactory)
    subject = factory.Sequence(lambda n: f"Question {n}")
    kind = Ticket.Kind.OTHER
    last_message_at = factory.LazyFunction(timezone.now)
    customer_wrote_at = factory.SelfAttribute("last_message_at")
    waiting_since = factory.SelfAttribute("last_message_at")

    first_message = factory.RelatedFactory(
        "tests.factories.MessageFactory",
        factory_related_name="ticket",
        author=factory.SelfAttribute("..customer"),
        body="Where is my order?",
    )


class MessageFactory(DjangoModelFactory[Message]):
    """A customer's further message in their ticket (its mail already sent)."""

    class Meta:
        model = Message

    ticket = factory.SubFactory(TicketFactory)
    author = factory.SelfAttribute("ticket.customer")
    is_staff = False
    body = factory.Sequence(lambda n: f"Any news? ({n})")
    notified_at = factory.LazyFunction(timezone.now)


class CannedReplyFactory(DjangoModelFactory[CannedReply]):
    class Meta:
        model = CannedReply

    title = factory.Sequence(lambda n: f"Canned reply {n}")
    body = "Thank you for writing. We are looking into it and will answer here."


class AffiliateAccountFactory(DjangoModelFactory[AffiliateAccount]):
    """A customer's affiliate account, opened as their affiliates page opens it (a wallet of its own, a code)."""

    class Meta:
        model = AffiliateAccount

    user = factory.SubFactory(UserFactory)

    @classmethod
    def _create(cls, model_class: type[AffiliateAccount], *args: Any, **kwargs: Any) -> AffiliateAccount:
        from billing.affiliates.services import affiliate_account_open

        user = kwargs.pop("user")
        if args or kwargs:
            raise TypeError(f"AffiliateAccountFactory opens accounts as the page does and cannot set {kwargs}")
        return affiliate_account_open(user=user)


class ReferralFactory(DjangoModelFactory[Referral]):
    """A customer referred by another at sign-up, recorded as sign-up records it (referral links, once)."""

    class Meta:
        model = Referral

    referrer = factory.SubFactory(UserFactory)
    referred = factory.SubFactory(UserFactory)

    @classmethod
    def _create(cls, model_class: type[Referral], *args: Any, **kwargs: Any) -> Referral:
        from billing.affiliates.services import affiliate_account_open, referral_record

        referrer, referred = kwargs.pop("referrer"), kwargs.pop("referred")
        referral = referral_record(referred=referred, code=affiliate_account_open(user=referrer).code)
        if referral is None:
            raise ValueError(f"{referred} cannot be referred by {referrer}")
        return referral


class ReferralVisitsFactory(DjangoModelFactory[ReferralVisits]):
    """A month's visits of an affiliate's referral link."""

    class Meta:
        model = ReferralVisits

    account = factory.SubFactory(AffiliateAccountFactory)
    month = factory.Sequence(lambda n: date(2026 - n // 12, 12 - n % 12, 1))
    count = 3
