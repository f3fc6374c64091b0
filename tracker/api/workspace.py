"""Organisation-scoped API: a member reads, an editor writes; outsiders get 404."""

from django.contrib.auth import get_user_model
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.exceptions import PermissionDenied

from tracker.workspace.models import AISystem, Organisation, TrackedItem
from tracker.workspace.selectors import items_for, membership_get
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


class ItemSerializer(serializers.ModelSerializer):
    milestone = serializers.SlugRelatedField(slug_field="key", read_only=True)
    title = serializers.CharField(source="milestone.title", read_only=True)
    legal_date = serializers.DateField(source="milestone.date", read_only=True)
    owner = serializers.SlugRelatedField(
        slug_field="username", queryset=get_user_model().objects.none(), allow_null=True,
        required=False,
    )  # fmt: skip
    evidence_links = serializers.ListField(child=serializers.URLField(), required=False)

    class Meta:
        model = TrackedItem
        fields = ["id", "milestone", "title", "legal_date", "status", "not_applicable_reason",
                  "owner", "target_date", "notes", "evidence_links", "reasons",
                  "changed_in_catalogue"]  # fmt: skip
        read_only_fields = ["reasons", "changed_in_catalogue"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if organisation := self.context.get("organisation"):
            self.fields["owner"].queryset = get_user_model().objects.filter(
                memberships__organisation=organisation
            )

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
        return item_update(item=instance, by=self.context["request"].user, **validated_data)


class OrganisationScoped:
    """Resolves the organisation from the URL for members only (404 otherwise)."""

    permission_classes = [permissions.IsAuthenticated]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.membership = membership_get(user=request.user, slug=kwargs["slug"])
        if request.method not in permissions.SAFE_METHODS and not self.membership.can_edit:
            raise PermissionDenied("Viewers can read but not change this organisation.")

    def get_serializer_context(self):
        organisation = getattr(getattr(self, "membership", None), "organisation", None)
        return {**super().get_serializer_context(), "organisation": organisation}


class OrganisationViewSet(viewsets.ReadOnlyModelViewSet):
    """The organisations the signed-in user belongs to."""

    serializer_class = OrganisationSerializer
    permission_classes = [permissions.IsAuthenticated]
    lookup_field = "slug"

    queryset = Organisation.objects.none()  # for the schema; the real one is per user

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return Organisation.objects.filter(memberships__user=self.request.user).order_by("name")


class SystemViewSet(OrganisationScoped, viewsets.ReadOnlyModelViewSet):
    """The organisation's AI system inventory."""

    serializer_class = SystemSerializer

    queryset = AISystem.objects.none()  # for the schema; the real one is per organisation

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return self.membership.organisation.systems.all()


class ItemViewSet(
    OrganisationScoped, mixins.ListModelMixin, mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin, viewsets.GenericViewSet,
):  # fmt: skip
    """The obligations that apply to the organisation; editors update their tracking."""

    serializer_class = ItemSerializer

    queryset = TrackedItem.objects.none()  # for the schema; the real one is per organisation

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return items_for(organisation=self.membership.organisation)
