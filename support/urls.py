from django.urls import path

from support import views

urlpatterns = [
    path("tickets/", views.ticket_list, name="tickets"),
    path("tickets/new/", views.ticket_new, name="ticket-new"),
    path("tickets/<int:ticket_id>/", views.ticket_page, name="ticket"),
]
