"""What every list has in common: cursor pages (50 by default, `page_size` up to 200), newest first; and what no
answer ever holds: a provider's key, a payment method's credentials, a payment's client secret, a password or
key hash."""

import base64

import pytest

from accounts.models import ApiKey, User
from accounts.services import api_key_issue
from api.models import StaffToken
from tests.api.staff.conftest import V1
from tests.factories import (
    CancelRequestFactory,
    DepositRequestFactory,
    PaymentFactory,
    ProviderFactory,
    RefillFactory,
    ServiceFactory,
    StripeMethodFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

MAKERS = {
    "orders/": lambda: RefillFactory.create().order,
    "refills/": RefillFactory.create,
    "cancels/": CancelRequestFactory.create,
    "customers/": UserFactory.create,
    "wallets/": lambda: UserFactory.create().wallet,
    "payments/": PaymentFactory.create,
    "deposits/": DepositRequestFactory.create,
    "providers/": ProviderFactory.create,
    "services/": ServiceFactory.create,
}


@pytest.mark.parametrize("path", list(MAKERS))
def test_each_list_pages_newest_first_with_a_cursor(root, path):
    first, second = MAKERS[path](), MAKERS[path]()
    page = root.get(path, {"page_size": 1}).json()
    assert set(page) == {"next", "previous", "results"}
    assert [row["id"] for row in page["results"]] == [second.pk]
    assert page["next"].startswith(f"http://testserver{V1}{path}?cursor=") and page["previous"] is None
    rest = root.client.get(page["next"], headers=root.headers).json()
    assert first.pk in [row["id"] for row in rest["results"]]
    assert root.get(f"{path}{first.pk}/").json()["id"] == first.pk


@pytest.mark.parametrize(
    ("path", "position"),
    [("manual-orders/", "2026"), *((path, position) for path in ("orders/", "manual-orders/")
                                   for position in ("12.5", "abc", "1\x00", "2026-13-45T99:00:00Z"))],
)  # fmt: skip
def test_a_hand_made_cursor_is_refused_as_invalid(root, path, position):
    """A cursor whose position is not a value of what the list is ordered by (an id, or the oldest-first list's
    creation time) is an invalid cursor, not a server error."""
    cursor = base64.b64encode(f"p={position}".encode()).decode()
    answer = root.get(path, {"cursor": cursor})
    assert (answer.status_code, answer.json()) == (404, {"detail": "Invalid cursor"})


def test_no_answer_holds_a_secret(root, alice):
    provider = ProviderFactory.create(api_key="provider-key-never-shown")
    ServiceFactory.create(provider=provider)
    method = StripeMethodFactory.create(
        credentials={"secret_key": "sk_test_never", "publishable_key": "pk_test_x", "webhook_secret": "whsec_never"}
    )
    PaymentFactory.create(user=alice, method=method, client_secret="pi_1_secret_never")
    DepositRequestFactory.create(user=alice)
    api_key_issue(user=alice)
    secrets = [
        "provider-key-never-shown", "sk_test_never", "whsec_never", "pk_test_x", "pi_1_secret_never",
        *User.objects.values_list("password", flat=True), *ApiKey.objects.values_list("secret_hash", flat=True),
        *StaffToken.objects.values_list("secret_hash", flat=True), root.headers["authorization"].split()[1],
    ]  # fmt: skip
    for path in MAKERS:
        listed = root.get(path)
        assert listed.status_code == 200
        answers = [listed.content.decode()]
        answers += [root.get(f"{path}{row['id']}/").content.decode() for row in listed.json()["results"]]
        for answer in answers:
            assert not [secret for secret in secrets if secret in answer], path
            for name in ("api_key", "credentials", "client_secret", "password", "secret_hash"):
                assert f'"{name}"' not in answer, (path, name)
