"""Evidence URLs, under /w/<slug>/evidence/ (spliced into urls.py like dashboard_urls, so
that every route stays one flat pattern of the "workspace" namespace)."""

from django.urls import path

from tracker.workspace import evidence_views

urlpatterns: list = [
    path("<slug:slug>/evidence/", evidence_views.evidence_list, name="evidence_list"),
    path("<slug:slug>/evidence/add/", evidence_views.evidence_add, name="evidence_add"),
    path("<slug:slug>/evidence/<int:pk>/", evidence_views.evidence_edit, name="evidence_edit"),
    path(
        "<slug:slug>/evidence/<int:pk>/delete/",
        evidence_views.evidence_delete_view,
        name="evidence_delete",
    ),
    path("<slug:slug>/evidence/<int:pk>/file/", evidence_views.evidence_file, name="evidence_file"),
]
