from django import forms
from django.contrib import admin
from django.urls import reverse

from tracker.catalogue.models import Milestone
from tracker.outbox.admin import attention_sources
from tracker.reminders.models import Digest, Reminder, Subscription
from tracker.reminders.validation import (
    choice_errors,
    parse_lead_days,
    validate_address_free,
    validate_list_length,
    validate_timezone,
)


class SubscriptionAdminForm(forms.ModelForm):
    """The admin's subscription form, held to the public form's and the API's validators."""

    class Meta:
        model = Subscription
        fields = ["email", "status", "language", "timezone", "send_hour", "lead_days",
                  "weekly_digest", "regulation", "roles", "scopes", "categories",
                  "milestones", "move_notices"]  # fmt: skip

    def clean_email(self):
        email = self.cleaned_data["email"]
        if self.instance.owner_key is None:
            validate_address_free(email, exclude_pk=self.instance.pk)
        return email

    def clean_timezone(self):
        return validate_timezone(self.cleaned_data["timezone"])

    def clean_lead_days(self):
        return parse_lead_days(self.cleaned_data["lead_days"])

    def clean_categories(self):
        value = self.cleaned_data["categories"] or []
        known = set(Milestone.Category.values)
        if not isinstance(value, list) or not all(
            isinstance(item, str) and item in known for item in value
        ):
            raise forms.ValidationError(f"A list of categories among: {', '.join(sorted(known))}.")
        validate_list_length(value)
        return sorted(set(value))

    def clean_milestones(self):
        validate_list_length(list(self.cleaned_data["milestones"]))
        return self.cleaned_data["milestones"]

    def clean(self):
        data = super().clean()
        # Milestones it already follows stay; a past one cannot be added.
        followed = (
            list(self.instance.milestones.values_list("pk", flat=True))
            if self.instance.pk and "milestones" in data
            else []
        )
        for field, error in choice_errors(data, keep=followed).items():
            self.add_error(field, error)
        return data


class ProblemFilter(admin.SimpleListFilter):
    title = "set aside"
    parameter_name = "problem"

    def lookups(self, request, model_admin):
        return [("yes", "Set aside with a problem"), ("no", "Healthy")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(problem="")
        if self.value() == "no":
            return queryset.filter(problem="")
        return queryset


class PersonalFilter(admin.SimpleListFilter):
    title = "list"
    parameter_name = "personal"

    def lookups(self, request, model_admin):
        return [("no", "The public list"), ("yes", "Personal reminders (workspace owners)")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(owner_key__isnull=False)
        if self.value() == "no":
            return queryset.filter(owner_key__isnull=True)
        return queryset


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionAdminForm
    list_display = ["email", "status", "owner_key", "language", "timezone", "send_hour",
                    "regulation", "created_at", "confirmed_at", "problem"]  # fmt: skip
    list_filter = [ProblemFilter, PersonalFilter, "status", "language", "regulation"]
    search_fields = ["email"]
    filter_horizontal = ["roles", "scopes", "milestones"]
    readonly_fields = ["owner_key", "targets", "manage_url", "merged_into", "created_at",
                       "requested_at", "confirmed_at", "unsubscribed_at", "problem",
                       "problem_at"]  # fmt: skip

    def save_model(self, request, obj, form, change):
        # A corrected subscription rejoins the sweep; its waiting reminders go out late.
        obj.problem, obj.problem_at = "", None
        super().save_model(request, obj, form, change)


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    list_display = ["subscription", "milestone", "occurrence", "lead_days", "due_at", "status"]
    list_filter = ["status", "lead_days"]
    search_fields = ["subscription__email", "milestone__key", "milestone__title"]
    list_select_related = ["subscription", "milestone"]
    raw_id_fields = ["subscription", "milestone", "message"]


def _set_aside() -> dict | None:
    count = Subscription.objects.exclude(problem="").count()
    if not count:
        return None
    plural = "s" if count != 1 else ""
    return {
        "text": f"{count} subscription{plural} set aside with a problem: their reminders wait "
        "until corrected.",
        "url": reverse("admin:reminders_subscription_changelist") + "?problem=yes",
    }


attention_sources.append(_set_aside)


@admin.register(Digest)
class DigestAdmin(admin.ModelAdmin):
    list_display = ["subscription", "week", "due_at", "status"]
    list_filter = ["status"]
    search_fields = ["subscription__email"]
    list_select_related = ["subscription"]
    raw_id_fields = ["subscription", "message"]
