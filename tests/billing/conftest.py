from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.fakes.cryptomus import FakeCryptomus


# Cryptomus ------------------------------------------------------------------------------------------------------


@pytest.fixture
def cryptomus(settings) -> "Iterator[FakeCryptomus]":
    """A fake Cryptomus on a free port, for CryptomusMethodFactory's merchant and payment key, as the panel's
    Cryptomus API."""
    from tests.factories import CRYPTOMUS_MERCHANT_ID, CRYPTOMUS_PAYMENT_KEY
    from tests.fakes.cryptomus import FakeCryptomus

    with FakeCryptomus(merchant=CRYPTOMUS_MERCHANT_ID, key=CRYPTOMUS_PAYMENT_KEY) as fake:
        settings.CRYPTOMUS_API_BASE = fake.url
        yield fake
