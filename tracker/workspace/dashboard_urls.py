"""Dashboard URLs (kept apart from urls.py so the dashboard can grow on its own)."""

from django.urls import path

from tracker.workspace import dashboard_views

app_name = "workspace"
urlpatterns: list = [
    # Organisation slugs come from slugify(), which never starts one with "_": no clash.
    path("_staff/dashboard/", dashboard_views.staff_dashboard, name="staff_dashboard"),
    path("<slug:slug>/dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("<slug:slug>/export.csv", dashboard_views.export, name="export"),
    path("<slug:slug>/report/", dashboard_views.report, name="report"),
]
