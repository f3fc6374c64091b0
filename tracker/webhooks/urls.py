"""Webhook pages, under /w/<slug>/webhooks/ (config/urls.py includes them as "webhooks")."""

from django.urls import path

from tracker.webhooks import views

app_name = "webhooks"
urlpatterns = [
    path("<slug:slug>/webhooks/", views.endpoint_list, name="list"),
    path("<slug:slug>/webhooks/new/", views.endpoint_new, name="new"),
    path("<slug:slug>/webhooks/<int:pk>/", views.endpoint_detail, name="detail"),
    path("<slug:slug>/webhooks/<int:pk>/edit/", views.endpoint_edit, name="edit"),
    path("<slug:slug>/webhooks/<int:pk>/delete/", views.endpoint_delete, name="delete"),
    path(
        "<slug:slug>/webhooks/<int:pk>/<str:action>/",
        views.endpoint_action,
        name="action",
    ),
]
