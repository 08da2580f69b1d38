"""Staff tokens: `manage.py staff_token USERNAME` issues one to active staff only, stored as a hash."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from api.models import StaffToken
from api.staff.tokens import staff_token_issue, staff_token_user
from panel.errors import ApplicationError
from tests.api.staff.conftest import StaffClient, staff_member
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _command(username: str) -> str:
    out = StringIO()
    call_command("staff_token", username, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def test_it_prints_a_working_token_on_its_last_line():
    sue = staff_member("sue", role="Support")
    token = _command("sue")
    assert staff_token_user(key=token) == sue
    assert StaffClient(f"Token {token}").get("orders/").status_code == 200


def test_it_stores_only_a_prefix_and_a_hash():
    staff_member("sue", role="Support")
    token = _command("sue")
    row = StaffToken.objects.get(user__username="sue")
    assert token.startswith(row.prefix) and token[len(row.prefix) :] not in row.secret_hash
    assert len(row.secret_hash) == 64 and token not in str(list(StaffToken.objects.values()))


def test_a_new_token_replaces_the_previous_one():
    staff_member("sue", role="Support")
    first, second = _command("sue"), _command("sue")
    assert StaffClient(f"Token {first}").get("orders/").status_code == 401
    assert StaffClient(f"Token {second}").get("orders/").status_code == 200
    assert StaffToken.objects.filter(user__username="sue").count() == 1


def test_it_refuses_customers_inactive_staff_and_unknown_users(alice):
    UserFactory.create(username="gone", is_staff=True, is_active=False)
    for username in ("alice", "gone"):
        with pytest.raises(CommandError, match="Only an active staff member can have a staff token"):
            _command(username)
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        _command("nobody")
    with pytest.raises(ApplicationError):
        staff_token_issue(user=alice)
    assert not StaffToken.objects.exists()


def test_a_token_with_the_right_prefix_and_a_wrong_secret_opens_nothing():
    staff_member("sue", role="Support")
    token = _command("sue")
    forged = token[:12] + ("x" if token[12] != "x" else "y") + token[13:]
    assert staff_token_user(key=forged) is None
    assert staff_token_user(key=token[:12]) is None
