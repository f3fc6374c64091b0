"""POST /api/v1/applicability/: what the AI Act asks of a company, by when, and why.

No authentication, throttled per client. The request is read by the workspace's one validator
(`tracker.workspace.facts.facts_parse`); the serializers here only document the contract in
the OpenAPI schema.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from tracker.api.base import ApiView
from tracker.workspace import applicability as law
from tracker.workspace.checker import applicability_answer
from tracker.workspace.facts import FactsInvalid, facts_parse


class ApplicabilityThrottle(SimpleRateThrottle):
    scope = "applicability"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class CompanyIn(serializers.Serializer):
    established_in_eu = serializers.BooleanField(
        required=False, default=True, help_text="Default true."
    )
    public_body = serializers.BooleanField(required=False, default=False)
    provides_public_services = serializers.BooleanField(required=False, default=False)


class SystemIn(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    roles = serializers.ListField(child=serializers.ChoiceField(law.ROLES), min_length=1)
    risk = serializers.ChoiceField(law.RISKS)
    annex_iii_point = serializers.ChoiceField(
        law.ANNEX_III_POINTS, required=False,
        help_text="With high_risk_annex_iii or annex_iii_not_high_risk.",
    )  # fmt: skip
    annex_i_section = serializers.ChoiceField(
        law.ANNEX_I_SECTIONS, required=False, help_text="With high_risk_annex_i."
    )
    art50 = serializers.ListField(child=serializers.ChoiceField(law.ART50), required=False)
    gpai_model = serializers.BooleanField(required=False, default=False)
    systemic_risk = serializers.BooleanField(required=False, default=False)
    open_source = serializers.BooleanField(required=False, default=False)
    placed_on_market = serializers.DateField(
        required=False, allow_null=True, help_text="Null or omitted: not yet."
    )
    intended_for_public_authorities = serializers.BooleanField(required=False, default=False)
    art25 = serializers.ListField(child=serializers.ChoiceField(law.ART25), required=False)


class ApplicabilityIn(serializers.Serializer):
    as_of = serializers.DateField(required=False, help_text="Default: today.")
    company = CompanyIn(required=False)
    systems = serializers.ListField(child=SystemIn(), max_length=50)


class DutyOut(serializers.Serializer):
    """One duty the milestone brings for this company (the milestone itself when the catalogue
    lists no duty of it that applies)."""

    article = serializers.CharField()
    title = serializers.CharField()


class ObligationOut(serializers.Serializer):
    milestone = serializers.CharField()
    date = serializers.DateField(allow_null=True, help_text="Null: counted from an event.")
    title = serializers.CharField()
    legal_basis = serializers.CharField()
    obligations = DutyOut(many=True)
    systems = serializers.ListField(child=serializers.CharField())
    reasons = serializers.ListField(child=serializers.CharField())


class ApplicabilityOut(serializers.Serializer):
    as_of = serializers.DateField()
    catalogue_version = serializers.IntegerField()
    obligations = ObligationOut(many=True)


EXAMPLE = {
    "as_of": "2026-11-29",
    "company": {"established_in_eu": True, "public_body": False, "provides_public_services": False},
    "systems": [
        {"name": "CV screener", "roles": ["provider"], "risk": "high_risk_annex_iii",
         "annex_iii_point": "4a", "art50": ["interacts"], "placed_on_market": "2026-10-01"}
    ],
}  # fmt: skip


class ApplicabilityView(ApiView, APIView):
    """What applies to a company under the EU AI Act, by when, and why."""

    authentication_classes = []
    permission_classes = []
    throttle_classes = [ApplicabilityThrottle]

    @extend_schema(
        operation_id="applicability_check",
        request=ApplicabilityIn,
        responses={
            200: ApplicabilityOut,
            400: OpenApiResponse(description='A message per field: {"systems[0].risk": [...]}'),
            429: OpenApiResponse(description="Too many requests from this client."),
            503: OpenApiResponse(description="The catalogue lacks a date the rules need."),
        },
        examples=[OpenApiExample("A provider of a CV screener", value=EXAMPLE, request_only=True)],
    )
    def post(self, request):
        try:
            company, as_of = facts_parse(request.data, today=timezone.localdate())
            answer = applicability_answer(company=company, as_of=as_of)
        except FactsInvalid as exc:
            return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
        except law.CatalogueIncomplete as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(ApplicabilityOut(answer).data)
