from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView
from rest_framework.routers import DefaultRouter

from tracker.api import applicability, views, workspace

router = DefaultRouter()
router.register("milestones", views.MilestoneViewSet, basename="milestone")
router.register("changes", views.ChangeViewSet, basename="change")
router.register("regulations", views.RegulationViewSet, basename="regulation")
router.register("subscriptions", views.SubscriptionViewSet, basename="subscription")
router.register("organisations", workspace.OrganisationViewSet, basename="organisation")
router.register(
    r"organisations/(?P<slug>[-\w]+)/systems", workspace.SystemViewSet, basename="org-system"
)
router.register(r"organisations/(?P<slug>[-\w]+)/items", workspace.ItemViewSet, basename="org-item")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularRedocView.as_view(url_name="v1:schema"), name="docs"),
    path("applicability/", applicability.ApplicabilityView.as_view(), name="applicability"),
    *router.urls,
]
