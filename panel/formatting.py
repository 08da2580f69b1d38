"""Money, rates and durations as customers read them, formatted for the active language.

Plain functions, so that services can format the values of their messages; templates use them as filters.
"""

from decimal import Decimal

from django.conf import settings
from django.utils import formats
from django.utils.translation import ngettext

from panel.money import RATE_QUANTUM


def _places(value: Decimal) -> int:
    """Two decimals at least, more only where they carry digits (0.01875 stays 0.01875)."""
    exponent = value.quantize(RATE_QUANTUM).normalize().as_tuple().exponent
    return max(2, -exponent if isinstance(exponent, int) else 2)


def amount(value: Decimal | int | None) -> str:
    """A number of the panel currency without its code: "1,234.50"."""
    if value is None:
        return ""
    number = Decimal(value)
    return formats.number_format(number, decimal_pos=_places(number), use_l10n=True, force_grouping=True)


def money(value: Decimal | int | None) -> str:
    """An amount with the panel currency: "1,234.50 USD"."""
    if value is None:
        return ""
    return f"{amount(value)} {settings.PANEL_CURRENCY}"


def percent(value: Decimal | int | None) -> str:
    """A percentage as the operator typed it, without trailing zeros: "2.5", "3"."""
    if value is None:
        return ""
    number = Decimal(value).normalize()
    return formats.number_format(number, decimal_pos=max(0, -number.as_tuple().exponent), use_l10n=True)  # type: ignore[operator]


def duration(seconds: int | None) -> str:
    """A service's average completion time, to the minute: "2 hours 5 minutes"; "—" when unknown."""
    if seconds is None:
        return "—"
    minutes = max(1, round(seconds / 60))
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = []
    if days:
        parts.append(ngettext("%(count)d day", "%(count)d days", days) % {"count": days})
    if hours:
        parts.append(ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours})
    if minutes and not days:
        parts.append(ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes})
    return " ".join(parts)
