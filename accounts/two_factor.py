"""Two-factor sign-in with django-otp: a TOTP device per user, one-time backup codes, and who must have them."""

import qrcode
import qrcode.image.svg
from django.db import transaction
from django.http import HttpRequest
from django_otp import devices_for_user, match_token, user_has_device
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from accounts.throttle import password_confirmed

BACKUP_CODES = 10
# Set at sign-in for a customer who enabled TOTP; staff always need a second factor.
SESSION_KEY = "two_factor_required"


def verified(*, request: HttpRequest) -> bool:
    """Whether this session confirmed a one-time code (django_otp's OTPMiddleware gives request.user is_verified)."""
    return bool(request.user.is_authenticated and getattr(request.user, "is_verified", bool)())


def two_factor_required(*, request: HttpRequest) -> bool:
    """Whether the signed-in user of this request must still confirm a one-time code."""
    if not request.user.is_authenticated or verified(request=request):
        return False
    return bool(request.user.is_staff or request.session.get(SESSION_KEY))


def remember_at_sign_in(*, request: HttpRequest, user: User) -> None:
    """Called at every sign-in: a customer with a device must confirm a code, as staff always must."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = bool(user.is_staff or user_has_device(user))


def has_totp(*, user: User) -> bool:
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def totp_enrolment_start(*, user: User) -> TOTPDevice:
    """The user's unconfirmed TOTP device (created on the first visit), whose key the enrolment page shows."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def qr_code_svg(*, device: TOTPDevice) -> str:
    """The device's otpauth:// URL as an inline SVG, drawn here: the secret never leaves for a QR service."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return str(image.to_string(encoding="unicode"))


@transaction.atomic
def totp_enrolment_confirm(*, request: HttpRequest, user: User, token: str) -> list[str] | None:
    """Confirm the enrolment with a code from the app; the new backup codes (to show once), or None if wrong."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
    if device is None or not device.verify_token(token.strip()):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    StaticDevice.objects.filter(user=user).delete()
    backup = StaticDevice.objects.create(user=user, name="Backup codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=backup, token=code) for code in codes])
    otp_login(request, device)
    request.session[SESSION_KEY] = True
    return codes


def _matching_device(user: User, token: str) -> Device | None:
    """The device whose code this is, or None. A code is digits (the app's) or letters and digits (a backup code):
    anything else matches nothing without a look-up (a NUL byte could not even be queried)."""
    code = token.strip().replace(" ", "")
    if not (code.isascii() and code.isalnum() and len(code) <= 32):
        return None
    return match_token(user, code)


def two_factor_verify(*, request: HttpRequest, user: User, token: str) -> bool:
    """Check a code from the app or a backup code (each backup code works once); django-otp throttles guesses."""
    device = _matching_device(user, token)
    if device is None:
        return False
    otp_login(request, device)
    return True


@transaction.atomic
def two_factor_reset(*, user: User) -> int:
    """Remove all of the user's devices: staff enrol again at their next sign-in. How many were removed."""
    removed = 0
    for device in devices_for_user(user, confirmed=None):
        device.delete()
        removed += 1
    return removed


def two_factor_turn_off(*, request: HttpRequest, user: User, password: str, token: str) -> bool:
    """A customer turns two-factor sign-in off with their password and a current code; staff cannot (they must
    keep it). Whether it was turned off."""
    if user.is_staff or not password_confirmed(request=request, user=user, password=password):
        return False
    if _matching_device(user, token) is None:
        return False
    two_factor_reset(user=user)
    request.session[SESSION_KEY] = False
    return True
