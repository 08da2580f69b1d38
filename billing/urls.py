from django.urls import path

from billing import views
from billing.payments import views as payment_views

urlpatterns = [
    path("funds/", views.funds, name="funds"),
    path("payments/<slug:gateway>/webhook/", payment_views.webhook, name="payment_webhook"),
]
