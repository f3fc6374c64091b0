"""API token URLs, under /w/<slug>/tokens/ (spliced into urls.py like evidence_urls, so that
every route stays one flat pattern of the "workspace" namespace)."""

from django.urls import path

from tracker.workspace import token_views

urlpatterns: list = [
    path("<slug:slug>/tokens/", token_views.tokens, name="tokens"),
    path("<slug:slug>/tokens/<int:pk>/revoke/", token_views.token_revoke_view, name="token_revoke"),
]
