import datetime as dt

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tracker.catalogue.models import (
    Amendment,
    Milestone,
    MilestoneChange,
    Regulation,
    Role,
    Scope,
)
from tracker.catalogue.selectors import UPCOMING_OCCURRENCES
from tracker.reminders.models import DEFAULT_LEAD_DAYS, Language
from tracker.reminders.subscriptions import Preferences
from tracker.reminders.validation import (
    choice_errors,
    parse_lead_days,
    validate_list_length,
    validate_timezone,
)


class RegulationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Regulation
        fields = ["key", "short_name", "title", "reference", "source_url", "summary"]


class AmendmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Amendment
        fields = [
            "old_date",
            "new_date",
            "amending_act",
            "source_url",
            "effective_on",
            "confidence",
            "note",
            "recorded_at",
        ]


class RecurrenceSerializer(serializers.Serializer):
    every_months = serializers.IntegerField()
    until = serializers.DateField(allow_null=True)
    next_occurrences = serializers.ListField(child=serializers.DateField())


class TriggerSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    offset_days = serializers.IntegerField(
        allow_null=True, help_text="Null when the law counts the period in hours (offset_hours)."
    )


@extend_schema_field(
    {
        "type": "object",
        "description": "Each changed field with its old and new value: {field: [old, new]}. "
        "Dates are ISO strings, roles and scopes sorted lists of keys.",
        "additionalProperties": {"type": "array", "items": {}, "minItems": 2, "maxItems": 2},
    }
)
class ChangedFieldsField(serializers.JSONField):
    pass


@extend_schema_field(
    {
        "type": "string",
        "anyOf": [{"format": "uri"}, {"maxLength": 0}],
        "description": "The amending act's URL; empty when the change has none.",
    }
)
class OptionalURLField(serializers.CharField):
    pass


class ChangeSerializer(serializers.ModelSerializer):
    """One recorded change of a milestone, the same on a milestone and in /changes/; who
    recorded it is not public."""

    milestone = serializers.SlugRelatedField(slug_field="key", read_only=True)
    milestone_title = serializers.CharField(source="milestone.title", read_only=True)
    regulation = serializers.CharField(source="milestone.regulation.key", read_only=True)
    changes = ChangedFieldsField(read_only=True)
    source_url = OptionalURLField(read_only=True)

    class Meta:
        model = MilestoneChange
        fields = [
            "id",
            "milestone",
            "milestone_title",
            "regulation",
            "kind",
            "origin",
            "recorded_at",
            "changes",
            "old_date",
            "new_date",
            "old_status",
            "new_status",
            "amending_act",
            "source_url",
        ]
        read_only_fields = fields


class MilestoneSerializer(serializers.ModelSerializer):
    regulation = serializers.SlugRelatedField(slug_field="key", read_only=True)
    roles = serializers.SlugRelatedField(slug_field="key", many=True, read_only=True)
    scopes = serializers.SlugRelatedField(slug_field="key", many=True, read_only=True)
    amendments = AmendmentSerializer(many=True, read_only=True)
    changes = ChangeSerializer(many=True, read_only=True)
    recurrence = serializers.SerializerMethodField()
    trigger = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Milestone
        fields = [
            "key",
            "title",
            "summary",
            "regulation",
            "kind",
            "date",
            "date_precision",
            "original_date",
            "recurrence",
            "offset_days",
            "offset_hours",
            "trigger",
            "category",
            "status",
            "confidence",
            "indicative",
            "legal_basis",
            "source_url",
            "source_title",
            "verified_on",
            "explainer",
            "roles",
            "scopes",
            "amendments",
            "changes",
            "url",
            "updated_at",
        ]

    @extend_schema_field(RecurrenceSerializer(allow_null=True))
    def get_recurrence(self, milestone: Milestone) -> dict | None:
        if milestone.kind != Milestone.Kind.RECURRING:
            return None
        today: dt.date = self.context.get("today") or timezone.localdate()
        return {
            "every_months": milestone.every_months,
            "until": milestone.until,
            "next_occurrences": milestone.occurrences(start=today, count=UPCOMING_OCCURRENCES),
        }

    @extend_schema_field(TriggerSerializer(allow_null=True))
    def get_trigger(self, milestone: Milestone) -> dict | None:
        if milestone.kind != Milestone.Kind.RELATIVE:
            return None
        return {
            "key": milestone.trigger,
            "label": milestone.trigger_label,
            "offset_days": milestone.offset_days,
        }

    def get_url(self, milestone: Milestone) -> str:
        request = self.context.get("request")
        path = milestone.get_absolute_url()
        return request.build_absolute_uri(path) if request else path


class SubscriptionRequestSerializer(serializers.Serializer):
    """A subscribe request; answered the same way whether or not the address is known."""

    email = serializers.EmailField()
    regulation = serializers.SlugRelatedField(
        slug_field="key", queryset=Regulation.objects.all(), required=False, allow_null=True
    )
    roles = serializers.SlugRelatedField(
        slug_field="key", queryset=Role.objects.all(), many=True, required=False
    )
    scopes = serializers.SlugRelatedField(
        slug_field="key", queryset=Scope.objects.all(), many=True, required=False
    )
    categories = serializers.ListField(
        child=serializers.ChoiceField(choices=Milestone.Category.choices), required=False
    )
    # Any milestone is looked up; one with no date ahead gets the shared validator's message.
    milestones = serializers.SlugRelatedField(
        slug_field="key", queryset=Milestone.objects.all(), many=True, required=False
    )
    lead_days = serializers.ListField(
        child=serializers.IntegerField(), required=False, default=list(DEFAULT_LEAD_DAYS)
    )
    weekly_digest = serializers.BooleanField(
        default=False, help_text="One weekly digest instead of individual reminders."
    )
    language = serializers.ChoiceField(choices=Language.choices, default=Language.EN)
    timezone = serializers.CharField(default="Europe/Brussels")
    send_hour = serializers.IntegerField(min_value=0, max_value=23, default=9)

    def to_internal_value(self, data):
        # Long lists are refused before their items are looked up one by one.
        errors = {}
        for name in ("roles", "scopes", "categories", "milestones"):
            if hasattr(data, "getlist"):
                raw = data.getlist(name)
            else:
                raw = data.get(name) if isinstance(data, dict) else None
            try:
                validate_list_length(raw)
            except DjangoValidationError as exc:
                errors[name] = exc.messages
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)

    def validate_lead_days(self, value):
        return _django_to_drf(parse_lead_days, value)

    def validate_timezone(self, value):
        return _django_to_drf(validate_timezone, value)

    def validate(self, data):
        errors = {field: error.messages for field, error in choice_errors(data).items()}
        if errors:
            raise serializers.ValidationError(errors)
        if not data.get("regulation") and not data.get("milestones"):
            raise serializers.ValidationError("Choose a regulation or at least one milestone.")
        return data

    def preferences(self) -> Preferences:
        data = self.validated_data
        return Preferences(
            regulation=data.get("regulation"),
            roles=data.get("roles", []),
            scopes=data.get("scopes", []),
            categories=data.get("categories", []),
            milestones=data.get("milestones", []),
            lead_days=data["lead_days"],
            language=data["language"],
            timezone=data["timezone"],
            send_hour=data["send_hour"],
            weekly_digest=data["weekly_digest"],
        )


def _django_to_drf(validator, value):
    try:
        return validator(value)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages) from exc
