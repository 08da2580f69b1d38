"""The panel's URLs and the ceiling views next to them, under bench/ceiling/ (bench_api's server only)."""

from django.urls import include, path

from api.bench import views

urlpatterns = [
    path("bench/ceiling/django", views.bare_django, name="ceiling-django"),
    path("bench/ceiling/drf", views.BareDrf.as_view(), name="ceiling-drf"),
    path("bench/ceiling/one-read", views.one_read, name="ceiling-one-read"),
    path("bench/ceiling/transaction", views.transaction_ceiling, name="ceiling-transaction"),
    path("bench/ceiling/hundred-rows", views.hundred_rows, name="ceiling-hundred-rows"),
    path("", include("panel.urls")),
]
