from django.urls import path

from orders.views import history, placing

urlpatterns = [
    path("orders/new/", placing.order_new, name="order-new"),
    path("orders/quote/", placing.order_quote_json, name="order-quote"),
    path("orders/mass/", placing.order_mass, name="order-mass"),
    path("orders/", history.order_list, name="orders"),
    path("orders/<int:order_id>/refill/", history.order_refill, name="order-refill"),
    path("orders/<int:order_id>/cancel/", history.order_cancel, name="order-cancel"),
    path("refills/", history.refill_list, name="refills"),
]
