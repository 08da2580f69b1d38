"""Service catalogs for the simulator: a hand-written demo one and a large generated one."""

from dataclasses import dataclass
from decimal import Decimal

from upstream.service_types import SERVICE_TYPES, SUPPORTED_TYPES


@dataclass
class SimService:
    id: int
    name: str
    type: str
    category: str
    rate: Decimal
    min: int
    max: int
    refill: bool = False
    cancel: bool = False
    dripfeed: bool = False
    description: str = ""
    # Some real providers omit the refill/cancel/dripfeed keys altogether.
    publish_flags: bool = True


def demo_catalog() -> list[SimService]:
    """About twenty services covering every API v2 service type, with names in several scripts."""
    insta, tiktok, youtube, telegram = "📸 Instagram", "🎵 TikTok", "▶️ YouTube", "Telegram"
    return [
        SimService(
            1,
            "Instagramフォロワー",
            "Default",
            insta,
            Decimal("0.90"),
            50,
            10000,
            refill=True,
            cancel=True,
            description="Real-looking followers, 30 days refill.",
        ),
        SimService(
            2,
            "Instagram Likes — drip-feed",
            "Default",
            insta,
            Decimal("0.25"),
            10,
            5000,
            cancel=True,
            dripfeed=True,
        ),
        SimService(
            3,
            "TikTok 조회수",
            "Default",
            tiktok,
            Decimal("0.0125"),
            100,
            1000000,
            dripfeed=True,
            publish_flags=False,
        ),
        SimService(
            4,
            "YouTube Просмотры",
            "Default",
            youtube,
            Decimal("2.5"),
            500,
            100000,
            refill=True,
            description="Просмотры, удержание 1-3 минуты.",
        ),
        SimService(5, "Instagram Story Views Package", "Package", insta, Decimal("1.50"), 1, 1),
        SimService(6, "Instagram Custom Comments", "Custom Comments", insta, Decimal("12.00"), 5, 1000, cancel=True),
        SimService(7, "TikTok カスタムコメント Package", "Custom Comments Package", tiktok, Decimal("4.99"), 1, 1),
        SimService(8, "Instagram Mentions", "Mentions", insta, Decimal("3.20"), 100, 50000),
        SimService(
            9,
            "Instagram Mentions with Hashtags",
            "Mentions with Hashtags",
            insta,
            Decimal("3.80"),
            100,
            50000,
        ),
        SimService(10, "Instagram Mentions Custom List", "Mentions Custom List", insta, Decimal("5.00"), 10, 1000),
        SimService(11, "Instagram Mentions Hashtag", "Mentions Hashtag", insta, Decimal("2.90"), 100, 50000),
        SimService(
            12,
            "Instagram Mentions User Followers",
            "Mentions User Followers",
            insta,
            Decimal("2.75"),
            100,
            50000,
        ),
        SimService(13, "Instagram Mentions Media Likers", "Mentions Media Likers", insta, Decimal("2.75"), 100, 50000),
        SimService(14, "Instagram Comment Likes", "Comment Likes", insta, Decimal("1.10"), 20, 10000, cancel=True),
        SimService(15, "YouTube Comment Replies", "Comment Replies", youtube, Decimal("15.00"), 1, 500),
        SimService(16, "X (Twitter) Poll Votes", "Poll", "X (Twitter)", Decimal("0.60"), 100, 100000, cancel=True),
        SimService(17, "Telegram Invites from Groups", "Invites from Groups", telegram, Decimal("8.00"), 100, 20000),
        SimService(
            18,
            "Website Traffic from Google",
            "Web Traffic",
            "🌐 Website Traffic",
            Decimal("0.35"),
            1000,
            1000000,
            dripfeed=True,
            cancel=True,
        ),
        SimService(19, "Instagram Auto Likes (Subscription)", "Subscriptions", insta, Decimal("0.40"), 50, 5000),
        SimService(
            20,
            "Telegram Подписчики",
            "Default",
            telegram,
            Decimal("1.35"),
            10,
            5000,
            refill=True,
            cancel=True,
            publish_flags=False,
        ),
        SimService(21, "Facebook Page Likes", "Default", "Facebook", Decimal("1.2"), 50, 20000, refill=True),
    ]


_PLATFORMS = (
    "Instagram",
    "TikTok",
    "YouTube",
    "Telegram",
    "Facebook",
    "Twitter",
    "Spotify",
    "Twitch",
    "Discord",
    "SoundCloud",
)
_KINDS = ("Followers", "Likes", "Views", "Comments", "Shares")
# Every fifth generated service is of another type the panel takes orders for, in the table's order.
_OTHER_TYPES = tuple(name for name in SUPPORTED_TYPES if name != "Default")
_LIMITS = ((10, 5000), (50, 10000), (100, 1000000), (20, 20000), (1000, 500000))


def generated_catalog(n: int) -> list[SimService]:
    """`n` deterministic services, ids 1..n, over 50 categories; mostly Default, varied rates and flags."""
    services = []
    for i in range(1, n + 1):
        platform = _PLATFORMS[(i - 1) % len(_PLATFORMS)]
        kind = _KINDS[(i - 1) // len(_PLATFORMS) % len(_KINDS)]
        type_ = _OTHER_TYPES[i // 5 % len(_OTHER_TYPES)] if i % 5 == 0 else "Default"
        service_type = SERVICE_TYPES[type_]
        low, high = (1, 1) if service_type.package else _LIMITS[i % len(_LIMITS)]
        services.append(
            SimService(
                id=i,
                name=f"{platform} {kind} #{i}",
                type=type_,
                category=f"{platform} {kind}",
                rate=Decimal((i * 7919) % 99991 + 1).scaleb(-4),
                min=low,
                max=high,
                refill=i % 3 == 0,
                cancel=i % 4 == 0,
                dripfeed=service_type.dripfeed and i % 2 == 0,
                description=f"Generated service {i}." if i % 7 else "",
                publish_flags=i % 17 != 0,
            )
        )
    return services
