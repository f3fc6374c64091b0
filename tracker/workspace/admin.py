from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from tracker.workspace.models import AISystem, Incident, Membership, Organisation, TrackedItem


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Organisation)
class OrganisationAdmin(SimpleHistoryAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(AISystem)
class AISystemAdmin(SimpleHistoryAdmin):
    list_display = ["name", "organisation", "risk_class", "is_gpai_model", "placed_on_market"]
    list_filter = ["risk_class", "is_gpai_model", "intended_for_public_authorities"]
    search_fields = ["name", "organisation__name"]
    list_select_related = ["organisation"]


@admin.register(TrackedItem)
class TrackedItemAdmin(SimpleHistoryAdmin):
    list_display = ["milestone", "organisation", "status", "owner", "target_date", "applies",
                    "changed_in_catalogue"]  # fmt: skip
    list_filter = ["status", "applies", "changed_in_catalogue"]
    search_fields = ["milestone__title", "organisation__name"]
    list_select_related = ["milestone", "organisation", "owner"]
    raw_id_fields = ["milestone", "owner"]


@admin.register(Incident)
class IncidentAdmin(SimpleHistoryAdmin):
    list_display = ["system", "organisation", "kinds", "member_state", "aware_at", "reported_at"]
    list_filter = ["member_state"]
    list_select_related = ["system", "organisation"]
    raw_id_fields = ["system", "owner"]
