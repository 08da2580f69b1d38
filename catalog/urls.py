from django.urls import path

from catalog import views

urlpatterns = [path("services/", views.service_list, name="services")]
