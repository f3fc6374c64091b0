"""Organisation-scoped API: a member reads, an editor writes; outsiders get 404."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.exceptions import NotFound, PermissionDenied

from tracker.api.base import ApiView, request_token
from tracker.workspace.models import AISystem, Evidence, Organisation, TrackedItem
from tracker.workspace.selectors import (
    VIEWERS_READ_ONLY,
    items_all_for,
    items_for,
    membership_get,
)
from tracker.workspace.services import item_update


class OrganisationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organisation
        fields = ["slug", "name", "established_in_eu", "public_body", "provides_public_services",
                  "catalogue_version", "review_notes"]  # fmt: skip


class SystemSerializer(serializers.ModelSerializer):
    class Meta:
        model = AISystem
        fields = ["id", "name", "purpose", "roles", "risk_class", "annex_iii_point",
                  "annex_i_section", "art50", "is_gpai_model", "gpai_systemic_risk",
                  "open_source", "placed_on_market", "intended_for_public_authorities",
                  "art25"]  # fmt: skip


class ItemSystemSerializer(serializers.Serializer):
    """The AI system a duty is owed for."""

    id = serializers.IntegerField(
        allow_null=True, help_text="Null when the system was removed from the inventory."
    )
    name = serializers.CharField()


class ItemObligationSerializer(serializers.Serializer):
    """The duty an item tracks."""

    key = serializers.CharField()
    article = serializers.CharField()
    title = serializers.CharField()


class ItemEvidenceSerializer(serializers.ModelSerializer):
    """A piece of evidence covering the item (added and edited on the workspace's pages)."""

    kind = serializers.CharField(read_only=True, help_text="file or link")
    url = serializers.SerializerMethodField(
        help_text="The link, or the file's address (served to members of the organisation only)."
    )

    class Meta:
        model = Evidence
        fields = ["id", "title", "kind", "url", "expires_on"]

    def get_url(self, piece: Evidence) -> str:
        if piece.link:
            return piece.link
        path = reverse(
            "workspace:evidence_file", kwargs={"slug": self.context["organisation"].slug,
                                               "pk": piece.pk}
        )  # fmt: skip
        return self.context["request"].build_absolute_uri(path)


# What the item list reads of each piece (one query for the page).
EVIDENCE_PREFETCH = Prefetch(
    "evidence",
    queryset=Evidence.objects.only("id", "title", "file", "link", "expires_on").order_by(
        "title", "pk"
    ),
)


class ItemSerializer(serializers.ModelSerializer):
    milestone = serializers.SlugRelatedField(slug_field="key", read_only=True)
    title = serializers.CharField(
        read_only=True, help_text="The duty's title, or the milestone's when tracked as a whole."
    )
    system = serializers.SerializerMethodField(
        help_text="Null for a company duty or a milestone tracked as a whole."
    )
    obligation = ItemObligationSerializer(
        read_only=True, allow_null=True,
        help_text="Null when the milestone is tracked as a whole (it lists no duty).",
    )  # fmt: skip
    legal_date = serializers.DateField(
        source="milestone.date", read_only=True, allow_null=True,
        help_text="Null for a deadline counted from an event (an incident report).",
    )  # fmt: skip
    owner = serializers.SlugRelatedField(
        slug_field="username", queryset=get_user_model().objects.none(), allow_null=True,
        required=False,
    )  # fmt: skip
    evidence = ItemEvidenceSerializer(many=True, read_only=True)

    on_timeline = serializers.BooleanField(
        source="is_tracked", read_only=True,
        help_text="False when the rules no longer select it and nobody keeps it on purpose.",
    )  # fmt: skip

    class Meta:
        model = TrackedItem
        fields = ["id", "milestone", "title", "system", "obligation", "legal_date", "status",
                  "not_applicable_reason", "owner", "target_date", "notes", "evidence",
                  "reasons", "changed_in_catalogue", "on_timeline", "applies", "stopped_at",
                  "stopped_reason", "kept_at"]  # fmt: skip
        read_only_fields = ["reasons", "changed_in_catalogue", "applies", "stopped_at",
                            "stopped_reason", "kept_at"]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if organisation := self.context.get("organisation"):
            self.fields["owner"].queryset = get_user_model().objects.filter(
                memberships__organisation=organisation
            )

    @extend_schema_field(ItemSystemSerializer(allow_null=True))
    def get_system(self, item: TrackedItem) -> dict | None:
        if not item.is_duty or not item.system_name:
            return None
        return {"id": item.system_id, "name": item.system_name}

    def validate(self, data):
        status = data.get("status", getattr(self.instance, "status", None))
        reason = data.get(
            "not_applicable_reason", getattr(self.instance, "not_applicable_reason", "")
        )
        if status == TrackedItem.Status.NOT_APPLICABLE and not reason.strip():
            raise serializers.ValidationError(
                {"not_applicable_reason": "Say why it does not apply."}
            )
        return data

    def update(self, instance, validated_data):
        try:
            return item_update(item=instance, by=self.context["request"].user, **validated_data)
        except DjangoValidationError as exc:  # the model's own rules, checked by the service
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc


class OrganisationScoped:
    """Resolves the organisation from the URL for members only (404 otherwise). A request
    with an API token reaches only the token's organisation (404 elsewhere), with the role
    its person has there; a read-only token writes nothing (tracker.api.base.ApiView)."""

    permission_classes = [permissions.IsAuthenticated]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        token = request_token(request)
        if token is not None and token.organisation.slug != kwargs["slug"]:
            raise NotFound()
        self.membership = membership_get(user=request.user, slug=kwargs["slug"])
        if request.method not in permissions.SAFE_METHODS and not self.membership.can_edit:
            raise PermissionDenied(VIEWERS_READ_ONLY)

    def get_serializer_context(self):
        organisation = getattr(getattr(self, "membership", None), "organisation", None)
        return {**super().get_serializer_context(), "organisation": organisation}


class OrganisationViewSet(ApiView, viewsets.ReadOnlyModelViewSet):
    """The organisations the signed-in user belongs to."""

    serializer_class = OrganisationSerializer
    permission_classes = [permissions.IsAuthenticated]
    lookup_field = "slug"

    queryset = Organisation.objects.none()  # for the schema; the real one is per user

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return Organisation.objects.filter(memberships__user=self.request.user).order_by("name")


class SystemViewSet(ApiView, OrganisationScoped, viewsets.ReadOnlyModelViewSet):
    """The organisation's AI system inventory."""

    serializer_class = SystemSerializer

    queryset = AISystem.objects.none()  # for the schema; the real one is per organisation

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return self.membership.organisation.systems.all()


class ItemViewSet(
    ApiView, OrganisationScoped, mixins.ListModelMixin, mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin, viewsets.GenericViewSet,
):  # fmt: skip
    """The obligations that apply to the organisation; editors update their tracking.

    The list holds what is on the timeline; `?include=stopped` adds the items that no longer
    apply (kept with their work and history). Any item can be read and updated by its id.
    """

    serializer_class = ItemSerializer

    queryset = TrackedItem.objects.none()  # for the schema; the real one is per organisation

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        organisation = self.membership.organisation
        if self.action != "list":
            return items_all_for(organisation=organisation).prefetch_related(EVIDENCE_PREFETCH)
        include = self.request.query_params.get("include", "")
        if include not in ("", "stopped"):
            raise serializers.ValidationError(
                {"include": ["Leave it out, or use include=stopped."]}
            )
        items = items_all_for if include == "stopped" else items_for
        return items(organisation=organisation).prefetch_related(EVIDENCE_PREFETCH)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "include", str, enum=["stopped"], required=False,
                description="`stopped`: add the items that no longer apply.",
            )
        ]
    )  # fmt: skip
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)
