from csp.decorators import csp_update
from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularRedocView


def favicon(request):
    """Browsers ask /favicon.ico whatever the page says: send them to the SVG."""
    return redirect(static("favicon.svg"))


# The API's Redoc page is the one page that needs more than the strict policy in settings:
# Redoc writes its styles inline (styled-components), draws icons as data: images and runs
# its search in a blob: worker. Its scripts still come from our origin only. It is routed here,
# before the API's own (identical) route, so the loosening stays next to the policy's owner.
api_docs = csp_update(
    {"style-src": ["'unsafe-inline'"], "img-src": ["data:"], "worker-src": ["blob:"]}
)(SpectacularRedocView.as_view(url_name="v1:schema"))

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/docs/", api_docs),
    path("api/v1/", include(("tracker.api.urls", "api"), namespace="v1")),
    path("subscriptions/", include("tracker.reminders.urls")),
    path("accounts/", include("tracker.accounts.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("favicon.ico", favicon),
    path("w/", include("tracker.webhooks.urls")),
    path("w/", include("tracker.workspace.urls")),
    path("", include("tracker.web.urls")),
]
