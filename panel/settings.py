"""Settings, all read from environment variables here (see README and .env.example).

With nothing set the panel runs on its embedded default: SQLite and a filesystem Celery broker under var/,
DEBUG on and a generated development secret, so a fresh checkout works without Postgres or Redis.
"""

import secrets
from decimal import Decimal
from pathlib import Path

import django_stubs_ext
import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

# Lets runtime code write the generic types that mypy checks (ModelAdmin[Service], ...).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()

DEBUG = env.bool("DEBUG", default=True)


def _development_secret_key() -> str:
    # Kept on disk so that sessions survive a restart of `make run`.
    path = VAR_DIR / "dev-secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _development_secret_key()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "panel.apps.PanelAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "catalog",
    "billing",
    "orders",
    "support",
    "api",
    "backoffice",
    "notifications",
    "panel.apps.PanelConfig",
]

MIDDLEWARE = [
    # API v2 requests go from here through the security middleware below straight to their view (api/middleware.py).
    "api.middleware.api_v2_shortcut",
    "django.middleware.security.SecurityMiddleware",
    # A page's address past 4,096 characters answers 414 (its sign-in redirect would be longer than Django allows).
    "panel.middleware.long_url",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before the CSRF check, which reads the form: a body that cannot be read answers 400 without a traceback.
    "panel.middleware.unreadable_form",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.customer_preferences",
    "accounts.middleware.two_factor_gate",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that it turns the lockout a password check ran into anywhere (sign-in, admin, account) into a 429.
    "axes.middleware.AxesMiddleware",
]

# Stripe: the SDK's API server and the Stripe.js the payment page loads. Both point elsewhere when
# STRIPE_API_BASE is set (the tests' localstripe); STRIPE_JS_URL alone replaces the script.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="").rstrip("/")
STRIPE_JS_URL = env.str(
    "STRIPE_JS_URL", default=f"{STRIPE_API_BASE}/js.stripe.com/v3/" if STRIPE_API_BASE else "https://js.stripe.com/v3/"
)
# Cryptomus' API (CRYPTOMUS_API_BASE points it at another server, as the tests' fake does).
CRYPTOMUS_API_BASE = env.str("CRYPTOMUS_API_BASE", default="https://api.cryptomus.com").rstrip("/")
# Seconds for one call to a payment gateway (never inside a database transaction).
PAYMENT_GATEWAY_TIMEOUT = env.int("PAYMENT_GATEWAY_TIMEOUT", default=20)
# Payments still open after this many minutes are asked about at their gateway (a lost notification).
PAYMENT_CHECK_MINUTES = env.int("PAYMENT_CHECK_MINUTES", default=10)
# ... and those still unpaid after this many hours fail as expired (a later confirmation still credits them).
PAYMENT_EXPIRE_HOURS = env.int("PAYMENT_EXPIRE_HOURS", default=72)
# Operators told of what needs them (backoffice.alerts: an order in an unknown state, a provider low on balance or
# failing, a service a sync disabled, a ledger mismatch, a payment taken back), by email and, when both Telegram
# settings are set, by a Telegram bot. TELEGRAM_API_BASE points the bot at another Bot API server (the tests' fake).
OPERATOR_EMAILS = env.list("OPERATOR_EMAILS", default=[])
TELEGRAM_BOT_TOKEN = env.str("TELEGRAM_BOT_TOKEN", default="")
TELEGRAM_CHAT_ID = env.str("TELEGRAM_CHAT_ID", default="")
TELEGRAM_API_BASE = env.str("TELEGRAM_API_BASE", default="https://api.telegram.org").rstrip("/")
# The panel's own address (https://panel.example.com), for the admin links in alerts; empty: links are paths.
PANEL_BASE_URL = env.str("PANEL_BASE_URL", default="").rstrip("/")
# A provider whose API calls have all failed for this many minutes is alerted.
PROVIDER_FAILING_MINUTES = env.int("PROVIDER_FAILING_MINUTES", default=15)
# A route with ROUTE_QUARANTINE_FAILURES failures (refusals that may pass, transport failures, orders the provider
# failed) within ROUTE_QUARANTINE_WINDOW seconds is skipped for ROUTE_QUARANTINE_COOLDOWN seconds; operators are told.
ROUTE_QUARANTINE_FAILURES = env.int("ROUTE_QUARANTINE_FAILURES", default=5)
ROUTE_QUARANTINE_WINDOW = env.int("ROUTE_QUARANTINE_WINDOW", default=600)
ROUTE_QUARANTINE_COOLDOWN = env.int("ROUTE_QUARANTINE_COOLDOWN", default=1800)
# Support tickets: a customer opens at most TICKET_RATE_LIMIT tickets and writes at most TICKET_MESSAGE_RATE_LIMIT
# messages in any TICKET_RATE_WINDOW seconds, and has at most TICKET_OPEN_LIMIT tickets open (or answered) at once.
# What customers write is mailed to the ticket's assignee, or, with none, to SUPPORT_EMAIL (by default the operators).
TICKET_RATE_LIMIT = env.int("TICKET_RATE_LIMIT", default=5)
TICKET_MESSAGE_RATE_LIMIT = env.int("TICKET_MESSAGE_RATE_LIMIT", default=30)
TICKET_RATE_WINDOW = env.int("TICKET_RATE_WINDOW", default=3600)
TICKET_OPEN_LIMIT = env.int("TICKET_OPEN_LIMIT", default=10)
SUPPORT_EMAIL = env.list("SUPPORT_EMAIL", default=OPERATOR_EMAILS)

# Every page: scripts, styles, images and fonts from our own origin only (all assets are served locally); no
# inline script or style, no plugin, no framing, forms post only here. The card payment page alone adds Stripe's
# origins, which Stripe.js must be loaded from (billing.views.payment_page).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

ROOT_URLCONF = "panel.urls"
WSGI_APPLICATION = "panel.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "panel.context_processors.panel",
                "support.context_processors.support",
            ],
        },
    },
]

FORM_RENDERER = "panel.forms.PanelFormRenderer"

DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the embedded database: wait for a lock instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# django-axes' backend first: it refuses a locked-out (username, address) pair before any password is hashed.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    # Django's Redis cache, with one client per process (panel/cache.py).
    CACHES = {"default": {"BACKEND": "panel.cache.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ja", "日本語")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
# Password-reset mail: printed on the console unless EMAIL_URL names a server (smtp+tls://user:pass@host:587).
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="panel@localhost")
# Sign-in attempts allowed per client address in each window, and failed password checks (sign-in, admin sign-in,
# password or email change) per (username, address) pair before that pair is locked for a window; sign-ups and
# password-reset mails per address.
LOGIN_RATE_LIMIT = env.int("LOGIN_RATE_LIMIT", default=10)
SIGNUP_RATE_LIMIT = env.int("SIGNUP_RATE_LIMIT", default=5)
AUTH_RATE_WINDOW = env.int("AUTH_RATE_WINDOW", default=300)
# How many proxies in front append to X-Forwarded-For (0: none, the header is ignored). Rate limits count per client.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# django-axes: locking the pair, never the account, so that nobody can lock a customer out from elsewhere. The
# callables read the settings above at each check.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "accounts.throttle.normalised_username"
AXES_CLIENT_IP_CALLABLE = "panel.ratelimit.client_address"
AXES_FAILURE_LIMIT = "accounts.throttle.failure_limit"
AXES_COOLOFF_TIME = "accounts.throttle.cool_off"
AXES_LOCKOUT_CALLABLE = "accounts.throttle.lockout_response"
# The name authenticator apps show next to the account (accounts/two_factor.py).
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="SMM panel")

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# The currency customers pay in, and the markup applied where nothing more specific is set.
PANEL_CURRENCY = env.str("PANEL_CURRENCY", default="USD").upper()
DEFAULT_MARKUP_PERCENT = env.get_value("DEFAULT_MARKUP_PERCENT", cast=Decimal, default=Decimal("50"))
if DEFAULT_MARKUP_PERCENT < 0:
    raise ImproperlyConfigured("DEFAULT_MARKUP_PERCENT must not be negative: the panel never sells below cost.")

# The affiliate program: the commission on referred customers' net spend (a customer's own percent in the admin
# overrides it), how long a referral link's cookie lasts, and the smallest affiliate balance moved to the main one.
AFFILIATE_COMMISSION_PERCENT = env.get_value("AFFILIATE_COMMISSION_PERCENT", cast=Decimal, default=Decimal("5"))
if not AFFILIATE_COMMISSION_PERCENT.is_finite() or not 0 <= AFFILIATE_COMMISSION_PERCENT <= 100:
    raise ImproperlyConfigured("AFFILIATE_COMMISSION_PERCENT must be between 0 and 100.")
AFFILIATE_COOKIE_DAYS = env.int("AFFILIATE_COOKIE_DAYS", default=30)
if AFFILIATE_COOKIE_DAYS < 1:
    raise ImproperlyConfigured("AFFILIATE_COOKIE_DAYS must be at least 1.")
AFFILIATE_TRANSFER_MINIMUM = env.get_value("AFFILIATE_TRANSFER_MINIMUM", cast=Decimal, default=Decimal("1"))
if not AFFILIATE_TRANSFER_MINIMUM.is_finite() or AFFILIATE_TRANSFER_MINIMUM < 0:
    raise ImproperlyConfigured("AFFILIATE_TRANSFER_MINIMUM must be a number of at least 0.")

# Seconds. An `add` is never retried after a read timeout, so keep the read timeout generous.
UPSTREAM_CONNECT_TIMEOUT = env.int("UPSTREAM_CONNECT_TIMEOUT", default=5)
UPSTREAM_READ_TIMEOUT = env.int("UPSTREAM_READ_TIMEOUT", default=30)

# An order still SENDING after this many seconds lost its worker: it becomes UNKNOWN (never resent blindly).
ORDER_SENDING_LIMIT = env.int("ORDER_SENDING_LIMIT", default=600)
if ORDER_SENDING_LIMIT <= UPSTREAM_CONNECT_TIMEOUT + UPSTREAM_READ_TIMEOUT:
    raise ImproperlyConfigured("ORDER_SENDING_LIMIT must exceed the upstream connect + read timeouts.")
# Polling: at most this many pollers per provider at once; a poll claim older than this is void.
POLL_CONCURRENCY_PER_PROVIDER = env.int("POLL_CONCURRENCY_PER_PROVIDER", default=2)
POLL_CLAIM_SECONDS = env.int("POLL_CLAIM_SECONDS", default=300)
# Orders that vanished at the provider are flagged for an operator after this many polls.
POLL_MISSES_ALERT = env.int("POLL_MISSES_ALERT", default=3)

# Our API v2: at most API_RATE_LIMIT requests per key in any API_RATE_WINDOW seconds (bursts welcome within).
API_RATE_LIMIT = env.int("API_RATE_LIMIT", default=200)
API_RATE_WINDOW = env.int("API_RATE_WINDOW", default=10)
# Requests with an unknown key per client address in each API_RATE_WINDOW; past it the address is refused outright.
API_FAILED_KEY_LIMIT = env.int("API_FAILED_KEY_LIMIT", default=20)

# Django REST framework: the defaults are the staff API's (api/staff); API v2 (api/views.py) sets its own classes on
# its one view. No browsable API: both APIs answer JSON only.
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SMM panel staff API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Only the staff API: API v2 is documented on its own page.
    "PREPROCESSING_HOOKS": ["api.staff.schema.staff_endpoints_only"],
    "SCHEMA_PATH_PREFIX": "/api/staff/v1",
    # Each model's statuses by their own name (an order's appear in two components, the order and its progress).
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.models.Order.Status",
        "RefillStatusEnum": "orders.models.Refill.Status",
        "CancelRequestStatusEnum": "orders.models.CancelRequest.Status",
        "DepositStatusEnum": "billing.models.DepositRequest.Status",
    },
    "DESCRIPTION": "What staff see and do in the admin, as a REST API: every operation names the Django "
    "permission it needs, which each staff role (Support, Finance, Catalog) has exactly as in the admin.\n\n"
    "Send `Authorization: Token <token>` with a token from `manage.py staff_token USERNAME` (on this page: "
    "*Authorize*, then type the word Token, a space and the token).",
}

CATALOG_SYNC_MINUTES = env.int("CATALOG_SYNC_MINUTES", default=360)
PROVIDER_BALANCE_MINUTES = env.int("PROVIDER_BALANCE_MINUTES", default=15)

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery" / "broker"
    _broker_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
    }
else:
    # A task running longer than this is redelivered; the hard time limit below stays far under it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = TIME_ZONE

if not DEBUG:
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto (see docker-compose.yml).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Health checks come from inside (the container, the proxy) over plain http: answer them, do not redirect.
    SECURE_REDIRECT_EXEMPT = [r"^healthz"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    # Preloading is a promise to browsers that takes months to withdraw: only when the operator asks for it.
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
