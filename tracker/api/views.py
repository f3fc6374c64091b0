from rest_framework import viewsets

from tracker.api.serializers import MilestoneSerializer, RegulationSerializer
from tracker.catalogue.filters import MilestoneFilter
from tracker.catalogue.models import Regulation
from tracker.catalogue.selectors import milestone_queryset


class MilestoneViewSet(viewsets.ReadOnlyModelViewSet):
    """The catalogue's milestones, dated ones first in date order; filter by role, scope..."""

    queryset = milestone_queryset()
    serializer_class = MilestoneSerializer
    filterset_class = MilestoneFilter
    lookup_field = "key"


class RegulationViewSet(viewsets.ReadOnlyModelViewSet):
    """The regulations and policy agendas in the catalogue."""

    queryset = Regulation.objects.all()
    serializer_class = RegulationSerializer
    lookup_field = "key"
