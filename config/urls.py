from django.contrib import admin
from django.urls import include, path

from tracker.accounts import views as account_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(("tracker.api.urls", "api"), namespace="v1")),
    path("subscriptions/", include("tracker.reminders.urls")),
    path("accounts/signup/", account_views.signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("w/", include("tracker.workspace.urls")),
    path("", include("tracker.web.urls")),
]
