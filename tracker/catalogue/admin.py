from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models.functions import ExtractYear
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import escape, format_html
from simple_history.admin import SimpleHistoryAdmin

from tracker.catalogue.conditions import ROLES, fact_vocabulary
from tracker.catalogue.forms import AmendmentForm, MilestoneAdminForm
from tracker.catalogue.models import (
    Amendment,
    ChangeReceipt,
    Milestone,
    MilestoneChange,
    Obligation,
    PackConflict,
    PackRecord,
    Regulation,
    Role,
    Scope,
)
from tracker.catalogue.pack_load import pack_conflict_resolve
from tracker.catalogue.services import (
    EDITABLE_FIELDS,
    milestone_amend,
    milestone_create,
    milestone_update,
    obligation_change_announce,
)


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


class HistoryAdmin(SimpleHistoryAdmin):
    """SimpleHistoryAdmin whose "version" pages answer 404, not 500, to a version id that is
    not a number (the URL takes any text)."""

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if not str(version_id).isdigit():
            raise Http404("No such version.")
        return super().history_form_view(request, object_id, version_id, extra_context)


class CatalogueAdmin(HistoryAdmin):
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
    search_fields = ["key", "title", "summary", "explainer", "legal_basis", "editor_note"]
    date_hierarchy = "date"
    list_select_related = ["regulation"]
    filter_horizontal = ["roles", "scopes"]
    readonly_fields = ["original_date", "updated_at"]
    inlines = [AmendmentInline]
    history_list_display = ["date", "status"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "regulation",
                    "key",
                    "title",
                    "summary",
                    "explainer",
                    "category",
                    "roles",
                    "scopes",
                ]
            },
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
                    "offset_hours",
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
                    "indicative",
                    "updated_at",
                ]
            },
        ),
        (
            "For editors only",
            {
                "description": "Never shown on the public pages, in feeds or in the API.",
                "fields": ["editor_note"],
            },
        ),
    ]

    form = MilestoneAdminForm

    def save_model(self, request, obj, form, change):
        # Every save goes through the catalogue's one service, which compares the form with
        # the row in the database: the change form and a history revert alike.
        fields = {
            name: value
            for name, value in form.cleaned_data.items()
            if name in EDITABLE_FIELDS and name in form.fields
        }
        roles, scopes = form.cleaned_data.get("roles"), form.cleaned_data.get("scopes")
        if not change:
            milestone_create(
                milestone=obj, roles=roles or (), scopes=scopes or (),
                origin=MilestoneChange.Origin.ADMIN, by=request.user, reason="Added in the admin",
            )  # fmt: skip
            return
        reverting = getattr(request, "_jalon_revert", False)
        milestone_update(
            milestone=obj, values=fields, roles=roles, scopes=scopes, by=request.user,
            origin=MilestoneChange.Origin.REVERT if reverting else MilestoneChange.Origin.ADMIN,
            reason="Reverted to an earlier version" if reverting else "",
        )  # fmt: skip

    def save_related(self, request, form, formsets, change):
        # Roles and scopes were saved by the service, with the change they belong to.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        request._jalon_revert = True  # save_model records the change as a revert
        return super().history_form_view(request, object_id, version_id, extra_context)

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


class ConditionsField(forms.JSONField):
    """`when`: an emptied box is no condition ({}), never NULL."""

    def to_python(self, value):
        value = super().to_python(value)
        return {} if value is None else value


class ObligationAdminForm(forms.ModelForm):
    """Checked by `Obligation.clean()`: the validator the pack loader uses, same messages."""

    when = ConditionsField(required=False, help_text=Obligation._meta.get_field("when").help_text)
    source_url = forms.URLField(max_length=500, assume_scheme="https")

    class Meta:
        model = Obligation
        fields = [
            "key", "milestone", "article", "title", "roles", "when", "when_any", "unless",
            "done_when", "text", "source_url", "confidence", "verified_on", "note",
        ]  # fmt: skip


class ObligationRoleFilter(admin.SimpleListFilter):
    """Who owes the duty: obligations whose roles include the chosen one."""

    title = "role"
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return [(role, role.replace("_", " ")) for role in fact_vocabulary().get(ROLES) or ()]

    def queryset(self, request, queryset):
        if self.value() in (fact_vocabulary().get(ROLES) or ()):
            # The JSON text holds each role in double quotes: "deployer" matches that role only.
            return queryset.filter(roles__icontains=f'"{self.value()}"')
        return queryset


def _vocabulary_help() -> str:
    """What the condition boxes accept, from the registered vocabulary. Escaped here: the
    admin prints a fieldset's description as HTML."""
    facts = [
        f"{name} ({', '.join(_value_words(values))})"
        for name, values in fact_vocabulary().items()
        if name != ROLES
    ]
    return escape(
        "Who owes the duty (roles) and for which AI systems. when: every fact listed must match, "
        'e.g. {"risk_class": ["high_risk_annex_iii"]}; when_any: a list of such maps, one must '
        "match; unless: a list of such maps, none may match. Values are lists, booleans "
        "included ([true]). Roles: "
        + ", ".join(fact_vocabulary().get(ROLES) or ())
        + ". Facts: "
        + "; ".join(facts)
        + "."
    )


def _value_words(values) -> list[str]:
    if values is None:
        return ["any value"]
    return [_value_word(value) for value in values]


def _value_word(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) or '"" (not recorded)'


@admin.register(Obligation)
class ObligationAdmin(CatalogueAdmin):
    """The duties each milestone brings. `verified_on` is set row by row by an editor who
    checked the entry against its source: there is deliberately no bulk action for it."""

    form = ObligationAdminForm
    list_display = ["title", "article", "milestone", "who", "confidence", "verified_on"]
    list_filter = [("milestone", admin.RelatedOnlyFieldListFilter), "confidence",
                   ObligationRoleFilter]  # fmt: skip
    search_fields = [
        "key", "title", "article", "done_when", "text", "note", "milestone__key",
        "milestone__title",
    ]  # fmt: skip
    list_select_related = ["milestone"]
    readonly_fields = ["updated_at"]
    history_list_display = ["confidence", "verified_on"]

    def get_fieldsets(self, request, obj=None):
        return [
            (None, {"fields": ["key", "milestone", "article", "title"]}),
            (
                "Who and for which systems",
                {
                    "fields": ["roles", "when", "when_any", "unless"],
                    "description": _vocabulary_help(),
                },
            ),
            ("What done looks like (public)", {"fields": ["done_when", "text", "source_url"]}),
            (
                "Review (confidence and note are for editors)",
                {"fields": ["confidence", "verified_on", "note", "updated_at"]},
            ),
        ]

    @admin.display(description="who")
    def who(self, obj: Obligation) -> str:
        return ", ".join(role.replace("_", " ") for role in obj.roles)

    # An editor's change of a duty is announced (the milestone's change log; the workspace
    # re-reads which duties apply). Editing only the note or verified_on is not.
    QUIET_FIELDS = {"note", "verified_on"}

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        if not change or set(form.changed_data) - self.QUIET_FIELDS:
            obligation_change_announce(
                obligation=obj, by=request.user, what="changed" if change else "added"
            )

    def delete_model(self, request, obj) -> None:
        obligation_change_announce(obligation=obj, by=request.user, what="removed")
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for obligation in queryset.select_related("milestone"):
            self.delete_model(request, obligation)


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


class ChangeReceiptInline(admin.TabularInline):
    model = ChangeReceipt
    extra = 0
    can_delete = False
    fields = ["consumer", "status", "attempts", "outcome", "errors", "started_at", "finished_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(MilestoneChange)
class MilestoneChangeAdmin(admin.ModelAdmin):
    """The catalogue's change log, and whether each follower app has consumed each change."""

    list_display = [
        "recorded_at", "milestone", "kind", "origin", "old_date", "new_date", "new_status",
        "recorded_by",
    ]  # fmt: skip
    list_filter = ["kind", "origin", "receipts__status", "milestone__regulation"]
    search_fields = ["milestone__key", "milestone__title", "amending_act", "reason"]
    list_select_related = ["milestone", "recorded_by"]
    date_hierarchy = "recorded_at"
    inlines = [ChangeReceiptInline]
    readonly_fields = [f.name for f in MilestoneChange._meta.fields]

    def has_add_permission(self, request):
        return False  # changes are recorded by the catalogue's services

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PackConflict)
class PackConflictAdmin(admin.ModelAdmin):
    """Fields a pack and an editor both changed: keep ours or take the pack's."""

    list_display = [
        "key", "field", "current_value", "pack_value", "status", "pack", "created_at",
    ]  # fmt: skip
    list_filter = ["status", "kind", "field", "pack"]
    search_fields = ["key", "field"]
    actions = ["keep_ours", "take_packs"]
    readonly_fields = [
        "kind", "key", "catalogue_row", "field", "base_value", "current_value",
        "current_source", "pack_value", "pack_source", "pack", "status", "created_at",
        "resolved_at", "resolved_by",
    ]  # fmt: skip
    exclude = ["pack_extra", "milestone"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Resolving is a catalogue edit: the permission to change the row it concerns.
        if obj is not None and obj.kind == PackRecord.Kind.OBLIGATION:
            return request.user.has_perm("catalogue.change_obligation")
        return request.user.has_perm("catalogue.change_milestone")

    @admin.display(description="in the catalogue")
    def catalogue_row(self, obj: PackConflict) -> str:
        """A link to the milestone or obligation in conflict (milestone is null for the others)."""
        model = {"milestone": Milestone, "obligation": Obligation}.get(obj.kind)
        row = model.objects.filter(key=obj.key).first() if model else None
        if row is None:
            return obj.key
        try:
            url = reverse(f"admin:catalogue_{obj.kind}_change", args=[row.pk])
        except NoReverseMatch:
            return obj.key
        return format_html('<a href="{}">{}</a>', url, row)

    def _resolve(self, request, queryset, *, take: bool):
        done = 0
        for conflict in queryset.filter(status=PackConflict.Status.OPEN):
            if not self.has_change_permission(request, conflict):
                self.message_user(
                    request, f"{conflict}: you may not change this row.", messages.ERROR
                )
                continue
            try:
                pack_conflict_resolve(conflict=conflict, take=take, by=request.user)
            except ValidationError as exc:
                self.message_user(request, f"{conflict}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"Resolved {done} conflict(s).", messages.SUCCESS)

    @admin.action(description="Keep the catalogue's value", permissions=["change"])
    def keep_ours(self, request, queryset):
        self._resolve(request, queryset, take=False)

    @admin.action(description="Take the pack's value", permissions=["change"])
    def take_packs(self, request, queryset):
        self._resolve(request, queryset, take=True)
