"""The shared admin confirmation page: it shows what an action will touch, and carries every selected row on."""

from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.models import Service
from panel.admin import SHOWN_ROWS
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

SERVICES = reverse("admin:catalog_service_changelist")


def test_it_lists_the_first_rows_and_acts_on_all_of_them(admin_client):
    chosen = ServiceFactory.create_batch(SHOWN_ROWS + 2, upstream_rate=Decimal("1.000000"))
    selection = {"action": "set_markup", "_selected_action": [str(s.pk) for s in chosen]}
    page = admin_client.post(SERVICES, selection).content.decode()
    assert "… and 2 more" in page
    assert page.count("<tr><td>") == SHOWN_ROWS
    assert all(f'name="_selected_action" value="{s.pk}"' in page for s in chosen)
    assert 'href="/admin/catalog/service/">Services</a>' in page and 'value="Set markup"' in page

    admin_client.post(SERVICES, {**selection, "apply": "1", "markup_percent": "20"})
    assert set(Service.objects.values_list("rate", flat=True)) == {Decimal("1.200000")}
