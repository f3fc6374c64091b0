from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models.functions import ExtractYear
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from simple_history.admin import SimpleHistoryAdmin

from tracker.catalogue.forms import AmendmentForm
from tracker.catalogue.models import Amendment, Milestone, Regulation, Role, Scope
from tracker.catalogue.services import milestone_amend, milestone_changed


class YearFilter(admin.SimpleListFilter):
    title = "year"
    parameter_name = "year"

    def lookups(self, request, model_admin):
        years = (
            Milestone.objects.exclude(date=None)
            .annotate(y=ExtractYear("date"))
            .values_list("y", flat=True)
            .distinct()
            .order_by("y")
        )
        return [(str(y), str(y)) for y in years]

    def queryset(self, request, queryset):
        if self.value() and self.value().isdigit():
            return queryset.filter(date__year=int(self.value()))
        return queryset


class CatalogueAdmin(SimpleHistoryAdmin):
    """Shared admin behaviour: every catalogue change is kept in the history."""

    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


class AmendmentInline(admin.TabularInline):
    model = Amendment
    extra = 0
    can_delete = False
    fields = [
        "old_date",
        "new_date",
        "amending_act",
        "source_url",
        "effective_on",
        "confidence",
        "recorded_at",
        "recorded_by",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False  # amendments are recorded through the "Record an amendment" form


@admin.register(Milestone)
class MilestoneAdmin(CatalogueAdmin):
    list_display = [
        "title",
        "date",
        "original_date",
        "regulation",
        "kind",
        "category",
        "status",
        "confidence",
        "legal_basis",
    ]
    list_filter = [
        "regulation",
        "category",
        "status",
        "scopes",
        "roles",
        "kind",
        "confidence",
        YearFilter,
    ]
    search_fields = ["key", "title", "summary", "legal_basis", "notes"]
    date_hierarchy = "date"
    list_select_related = ["regulation"]
    filter_horizontal = ["roles", "scopes"]
    readonly_fields = ["original_date", "updated_at"]
    inlines = [AmendmentInline]
    history_list_display = ["date", "status"]
    fieldsets = [
        (
            None,
            {"fields": ["regulation", "key", "title", "summary", "category", "roles", "scopes"]},
        ),
        (
            "When",
            {
                "fields": [
                    "kind",
                    "date",
                    "date_precision",
                    "original_date",
                    "every_months",
                    "until",
                    "offset_days",
                    "trigger",
                    "trigger_label",
                ]
            },
        ),
        (
            "Source",
            {
                "fields": [
                    "legal_basis",
                    "source_url",
                    "source_title",
                    "status",
                    "confidence",
                    "verified_on",
                    "notes",
                    "updated_at",
                ]
            },
        ),
    ]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change or {"date", "status"} & set(form.changed_data):
            # The admin wraps this in a transaction: reminders move with the edit or not at all.
            milestone_changed(milestone=obj, old_date=form.initial.get("date"))

    def get_urls(self):
        urls = [
            path(
                "<int:pk>/amend/",
                self.admin_site.admin_view(self.amend_view),
                name="catalogue_milestone_amend",
            )
        ]
        return urls + super().get_urls()

    def amend_view(self, request, pk):
        milestone = get_object_or_404(Milestone, pk=pk)
        if not self.has_change_permission(request, milestone):
            raise PermissionDenied
        # The law watch opens this form pre-filled from a candidate (?amending_act=&source_url=).
        prefill = {name: request.GET[name] for name in AmendmentForm.PREFILL if name in request.GET}
        form = AmendmentForm(request.POST or None, initial=prefill)
        if request.method == "POST" and form.is_valid():
            try:
                amendment = milestone_amend(
                    milestone=milestone, recorded_by=request.user, **form.cleaned_data
                )
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error(None, message)
            else:
                self.message_user(
                    request,
                    f"Recorded: {amendment.amending_act} moves “{milestone}” from "
                    f"{amendment.old_date} to {amendment.new_date}.",
                    messages.SUCCESS,
                )
                return redirect(reverse("admin:catalogue_milestone_change", args=[pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Record an amendment: {milestone}",
            "opts": self.model._meta,
            "original": milestone,
            "form": form,
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/catalogue/milestone/amend.html", context)


@admin.register(Regulation)
class RegulationAdmin(CatalogueAdmin):
    list_display = ["short_name", "key", "reference"]
    search_fields = ["key", "short_name", "title", "reference"]


@admin.register(Amendment)
class AmendmentAdmin(CatalogueAdmin):
    list_display = [
        "milestone",
        "old_date",
        "new_date",
        "amending_act",
        "confidence",
        "recorded_at",
        "recorded_by",
    ]
    list_filter = ["amending_act", "confidence"]
    search_fields = ["milestone__title", "milestone__key", "amending_act"]
    list_select_related = ["milestone", "recorded_by"]
    readonly_fields = ["milestone", "old_date", "new_date", "recorded_at", "recorded_by"]

    def has_add_permission(self, request):
        return False  # use "Record an amendment" on the milestone, which moves the date too


@admin.register(Role, Scope)
class VocabularyAdmin(admin.ModelAdmin):
    list_display = ["name", "key"]
    search_fields = ["key", "name"]
