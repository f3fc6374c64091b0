from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from tracker.api.base import ApiView
from tracker.api.filters import ChangeFilter, MilestoneFilter
from tracker.api.serializers import (
    ChangeSerializer,
    MilestoneSerializer,
    RegulationSerializer,
    SubscriptionRequestSerializer,
)
from tracker.catalogue.models import Regulation
from tracker.catalogue.selectors import (
    changes_queryset,
    milestone_with_changes_queryset,
)
from tracker.reminders.subscriptions import subscription_request
from tracker.reminders.throttles import SubscribeThrottle

ACCEPTED = "If the address can receive email, a confirmation link is on its way."


class PublicCatalogue:
    """A read-only catalogue endpoint: one answer for everyone, so it authenticates no one (no
    session is read) and PublicPageMiddleware (tracker/web/caching.py, found by this marker: the
    API does not import the web app) answers it per catalogue version, with 304s."""

    public_page = True
    authentication_classes: list = []


class MilestoneViewSet(ApiView, PublicCatalogue, viewsets.ReadOnlyModelViewSet):
    """The catalogue's milestones, dated ones first in date order, each with its change log;
    filter by role, scope..."""

    queryset = milestone_with_changes_queryset()
    serializer_class = MilestoneSerializer
    filterset_class = MilestoneFilter
    lookup_field = "key"


@extend_schema_view(
    # The filters take keys; the generated schema would say primary keys.
    list=extend_schema(
        parameters=[
            OpenApiParameter("regulation", str, description="A regulation's key"),
            OpenApiParameter("milestone", str, description="A milestone's key"),
        ]
    )
)
class ChangeViewSet(ApiView, PublicCatalogue, viewsets.ReadOnlyModelViewSet):
    """Every recorded change of the catalogue, newest first; filter by regulation, milestone
    and `since` (recorded at or after an ISO 8601 date and time)."""

    queryset = changes_queryset()
    serializer_class = ChangeSerializer
    filterset_class = ChangeFilter


class RegulationViewSet(ApiView, PublicCatalogue, viewsets.ReadOnlyModelViewSet):
    """The regulations and policy agendas in the catalogue."""

    queryset = Regulation.objects.all()
    serializer_class = RegulationSerializer
    lookup_field = "key"


class SubscriptionViewSet(ApiView, viewsets.ViewSet):
    """Subscribe to reminders; a confirmation email activates the subscription."""

    throttle_classes = [SubscribeThrottle]
    serializer_class = SubscriptionRequestSerializer

    @extend_schema(
        request=SubscriptionRequestSerializer,
        responses={
            202: inline_serializer("SubscriptionAccepted", {"detail": serializers.CharField()})
        },
    )
    def create(self, request, *args, **kwargs):  # `format` comes with /subscriptions.json
        serializer = SubscriptionRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription_request(
            email=serializer.validated_data["email"], preferences=serializer.preferences()
        )
        return Response({"detail": ACCEPTED}, status=status.HTTP_202_ACCEPTED)
