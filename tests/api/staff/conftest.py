import json
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.models import User
from api.staff.tokens import staff_token_issue
from tests.factories import UserFactory

V1 = "/api/staff/v1/"


class StaffClient:
    """A client of the staff API sending `Authorization: Token <token>` (or the header given)."""

    def __init__(self, authorization: str | None) -> None:
        self.client = Client()
        self.headers = {"authorization": authorization} if authorization else {}

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.client.get(f"{V1}{path}", params or {}, headers=self.headers)

    def post(self, path: str, data: dict[str, Any] | None = None) -> Any:
        body = json.dumps(data or {})
        return self.client.post(f"{V1}{path}", body, content_type="application/json", headers=self.headers)


def staff_member(username: str, *, role: str | None = None, superuser: bool = False) -> User:
    user = UserFactory.create(username=username, is_staff=True, is_superuser=superuser)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def client_of(user: User) -> StaffClient:
    return StaffClient(f"Token {staff_token_issue(user=user)}")


@pytest.fixture
def support(db: None) -> StaffClient:
    return client_of(staff_member("sue", role="Support"))


@pytest.fixture
def finance(db: None) -> StaffClient:
    return client_of(staff_member("fred", role="Finance"))


@pytest.fixture
def catalog_staff(db: None) -> StaffClient:
    return client_of(staff_member("cat", role="Catalog"))


@pytest.fixture
def root(db: None) -> StaffClient:
    return client_of(staff_member("root", superuser=True))


@pytest.fixture
def staff_clients(support, finance, catalog_staff, root) -> dict[str, StaffClient]:
    return {"Support": support, "Finance": finance, "Catalog": catalog_staff, "superuser": root}
