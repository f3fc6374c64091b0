"""The workspace in the admin. Every write that changes what applies or who is reminded goes
through the same services as the pages (tracking, owner reminders, item history); what has
no service fit for the admin is read-only here:

- organisations: the name is edited here; the company's facts go through
  `organisation_set_facts` (tracking follows); organisations are created by their owners;
- members and roles: read-only (owners change roles on the Members page, where the
  last-owner rule holds);
- AI systems: `system_save` and `system_delete` (tracking follows, and an item that stops
  applying says why), validated like the workspace's form;
- tracked items (a duty per system, or a milestone tracked as a whole): created and retired
  by tracking only, never deleted; their tracking fields go through `item_update` (history,
  owner reminders).
"""

from django import forms
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from tracker.workspace import services
from tracker.workspace.forms import SystemForm
from tracker.workspace.item_notices import COMPANY_FACTS
from tracker.workspace.models import AISystem, Incident, Membership, Organisation, TrackedItem


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "joined_at"]
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = (
        "Members (read-only: owners change roles on the organisation's Members page)"
    )

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Organisation)
class OrganisationAdmin(SimpleHistoryAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]
    fields = ["name", "slug", *COMPANY_FACTS, "created_at", "catalogue_version", "review_notes"]
    readonly_fields = ["slug", "created_at", "catalogue_version", "review_notes"]

    def has_add_permission(self, request) -> bool:
        return False  # an organisation is created by its first owner, in the workspace

    def get_deleted_objects(self, objs, request):
        """Deleting an organisation (on its owners' request, say) takes all it holds, which the
        confirmation page lists: items and incidents cannot be deleted one by one, but they
        need no permission of their own to go with it."""
        deleted, model_count, _, protected = super().get_deleted_objects(objs, request)
        return deleted, model_count, set(), protected

    def delete_model(self, request, obj) -> None:
        services.organisation_delete(organisation=obj, by=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for organisation in queryset:
            services.organisation_delete(organisation=organisation, by=request.user)

    def save_model(self, request, obj, form, change) -> None:
        obj._history_user = request.user
        others = [name for name in form.changed_data if name not in COMPANY_FACTS]
        if others:
            obj.save(update_fields=others)
        if set(form.changed_data) & set(COMPANY_FACTS):
            services.organisation_set_facts(
                organisation=obj, **{name: form.cleaned_data[name] for name in COMPANY_FACTS}
            )


class AISystemAdminForm(SystemForm):
    """The workspace's system form (the checker's validation) with the organisation."""

    class Meta(SystemForm.Meta):
        fields = ["organisation", *SystemForm.Meta.fields]


@admin.register(AISystem)
class AISystemAdmin(SimpleHistoryAdmin):
    form = AISystemAdminForm
    list_display = ["name", "organisation", "risk_class", "is_gpai_model", "placed_on_market"]
    list_filter = ["risk_class", "is_gpai_model", "intended_for_public_authorities"]
    search_fields = ["name", "organisation__name"]
    list_select_related = ["organisation"]
    raw_id_fields = ["organisation"]

    def save_model(self, request, obj, form, change) -> None:
        services.system_save(system=obj, by=request.user)

    def delete_model(self, request, obj) -> None:
        services.system_delete(system=obj, by=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for system in queryset.select_related("organisation"):
            services.system_delete(system=system, by=request.user)


class TrackedItemAdminForm(forms.ModelForm):
    def clean(self):
        data = super().clean()
        owner = data.get("owner")
        item = self.instance
        if (
            owner is not None
            and owner.pk != item.owner_id
            and not Membership.objects.filter(
                organisation_id=item.organisation_id, user=owner
            ).exists()
        ):
            self.add_error("owner", "The owner must be a member of the organisation.")
        return data


class DutyFilter(admin.SimpleListFilter):
    title = "tracked as"
    parameter_name = "tracked_as"

    def lookups(self, request, model_admin):
        return [("duty", "A duty"), ("milestone", "A milestone as a whole")]

    def queryset(self, request, queryset):
        if self.value() == "duty":
            return queryset.filter(obligation__isnull=False)
        if self.value() == "milestone":
            return queryset.filter(obligation__isnull=True)
        return queryset


@admin.register(TrackedItem)
class TrackedItemAdmin(SimpleHistoryAdmin):
    form = TrackedItemAdminForm
    list_display = ["__str__", "milestone", "organisation", "status", "owner", "target_date",
                    "applies", "kept_at", "changed_in_catalogue"]  # fmt: skip
    list_filter = [DutyFilter, "status", "applies", "changed_in_catalogue"]
    search_fields = ["milestone__title", "obligation__title", "obligation__article",
                     "system_name", "organisation__name"]  # fmt: skip
    list_select_related = ["milestone", "organisation", "owner", "obligation"]
    raw_id_fields = ["owner"]
    readonly_fields = ["organisation", "milestone", "obligation", "system", "system_name",
                       "reasons", "applies", "stopped_at", "stopped_reason", "kept_at",
                       "kept_by", "changed_in_catalogue"]  # fmt: skip
    fields = [*readonly_fields[:5], *services.ITEM_FIELDS, *readonly_fields[5:]]

    def has_add_permission(self, request) -> bool:
        return False  # items come from what applies (services.tracking_sync)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # nothing vanishes: an item that no longer applies is kept

    def save_model(self, request, obj, form, change) -> None:
        changes = {name: form.cleaned_data[name] for name in services.ITEM_FIELDS
                   if name in form.changed_data}  # fmt: skip
        services.item_update(item=obj, by=request.user, **changes)


@admin.register(Incident)
class IncidentAdmin(SimpleHistoryAdmin):
    list_display = ["system", "organisation", "kinds", "member_state", "aware_at", "reported_at"]
    list_filter = ["member_state"]
    list_select_related = ["system", "organisation"]
    raw_id_fields = ["system", "owner"]

    # Read-only here: incidents are recorded and corrected in the workspace, whose services
    # keep their history, validate the kinds and the awareness time, and tell the new owner.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
