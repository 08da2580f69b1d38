from django.urls import path

from billing import views
from billing.affiliates import views as affiliate_views
from billing.payments import views as payment_views

urlpatterns = [
    path("funds/", views.funds, name="funds"),
    path("funds/pay/", views.pay, name="pay"),
    path("funds/payments/<str:payment_id>/", views.payment_page, name="payment"),
    path("funds/payments/<str:payment_id>/state/", views.payment_state, name="payment_state"),
    path("payments/<slug:gateway>/webhook/", payment_views.webhook, name="payment_webhook"),
    path("affiliates/", affiliate_views.affiliates, name="affiliates"),
    path("affiliates/transfer/", affiliate_views.affiliate_transfer_view, name="affiliate-transfer"),
    path("r/<slug:code>/", affiliate_views.referral, name="referral"),
]
