from django.urls import path

from api import pages
from api.views import api_v2

urlpatterns = [
    path("api/v2", api_v2, name="api-v2"),
    path("api/v2/", api_v2),
    path("api/", pages.api_page, name="api-page"),
    path("api/key/", pages.api_key_new, name="api-key"),
]
