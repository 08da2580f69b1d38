from collections.abc import Iterator

import pytest

from tests.fakes.telegram import FakeTelegram

BOT_TOKEN = "123456:AAF-secret-bot-token"
CHAT_ID = "-1001234567890"


@pytest.fixture
def telegram(settings) -> Iterator[FakeTelegram]:
    """A fake Bot API on a free port, as the panel's Telegram: its bot's token and an operators' chat."""
    with FakeTelegram(token=BOT_TOKEN) as fake:
        settings.TELEGRAM_API_BASE = fake.url
        settings.TELEGRAM_BOT_TOKEN = BOT_TOKEN
        settings.TELEGRAM_CHAT_ID = CHAT_ID
        yield fake
