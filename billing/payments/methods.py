"""Payment methods as operators set them up (admin and add_payment_method): the gateway's credentials, checked
complete, kept write-only; shown masked."""

from collections.abc import Mapping
from decimal import Decimal

from django.core.exceptions import ValidationError

from billing.models import PaymentMethod
from billing.payments import gateway_class
from billing.payments.base import Credential


def credential_specs(gateway: str) -> tuple[Credential, ...]:
    """The keys a gateway needs (none for manual methods)."""
    if gateway == PaymentMethod.Gateway.MANUAL:
        return ()
    return gateway_class(gateway).credentials


def credentials_clean(gateway: str, given: Mapping[str, str], current: Mapping[str, object]) -> dict[str, str]:
    """The gateway's credentials: each value given (trimmed), else the current one; ValidationError names what
    is missing. Keys of other gateways are dropped, so a method never keeps a secret it does not use."""
    cleaned, missing = {}, []
    for spec in credential_specs(gateway):
        value = (given.get(spec.name) or "").strip() or current.get(spec.name) or ""
        if not isinstance(value, str) or not value:
            missing.append(spec.label)
        else:
            cleaned[spec.name] = value
    if missing:
        raise ValidationError(f"Enter the {' and the '.join(missing)} of this {gateway} account.")
    return cleaned


def masked(value: str) -> str:
    """Enough of a key to tell which one it is, never enough to use it."""
    return f"{value[:4]}…{value[-2:]}" if len(value) > 10 else "•" * len(value)


def credentials_shown(method: PaymentMethod) -> list[tuple[str, str]]:
    """(label, shown value) of each credential: secrets masked, public ones (a publishable key) in full."""
    shown = []
    for spec in credential_specs(method.gateway):
        value = method.credentials.get(spec.name, "")
        value = value if isinstance(value, str) else ""
        shown.append((spec.label, masked(value) if spec.secret else value))
    return shown


def payment_method_create(
    *,
    name: str,
    gateway: str,
    credentials: Mapping[str, str],
    minimum: Decimal = Decimal(0),
    maximum: Decimal | None = None,
    fee_percent: Decimal = Decimal(0),
    bonus_percent: Decimal = Decimal(0),
    bonus_minimum: Decimal = Decimal(0),
    instructions: str = "",
    is_active: bool = True,
) -> PaymentMethod:
    """Create a method after checking it like the admin does; raise ValidationError, saving nothing."""
    if gateway not in PaymentMethod.Gateway.values:
        raise ValidationError(f"Unknown gateway {gateway!r}: choose one of {', '.join(PaymentMethod.Gateway.values)}.")
    method = PaymentMethod(
        name=name.strip(), gateway=gateway, credentials=credentials_clean(gateway, credentials, {}), minimum=minimum,
        maximum=maximum, fee_percent=fee_percent, bonus_percent=bonus_percent, bonus_minimum=bonus_minimum,
        instructions=instructions, is_active=is_active,
    )  # fmt: skip
    method.full_clean()
    method.save()
    return method
