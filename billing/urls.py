from django.urls import path

from billing import views

urlpatterns = [path("funds/", views.funds, name="funds")]
