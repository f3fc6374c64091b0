import json
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from tracker.catalogue.models import Milestone
from tracker.lawwatch.models import LawChangeCandidate, LawWatchRun
from tracker.lawwatch.selectors import milestones_movable
from tracker.lawwatch.services import candidate_open_as_amendment, candidates_dismiss

EDITOR_PERMISSION = "catalogue.change_milestone"


def may_decide(request) -> bool:
    """The one rule: whoever may change the catalogue's milestones sees and decides candidates."""
    return request.user.is_active and request.user.has_perm(EDITOR_PERMISSION)


class EditorsOnly:
    """Read-only admin pages open to catalogue editors (who hold no law watch permissions)."""

    def has_module_permission(self, request):
        return may_decide(request)

    def has_view_permission(self, request, obj=None):
        return may_decide(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # pages are read only; decisions go through the actions below

    def has_delete_permission(self, request, obj=None):
        return False


class MilestoneChoiceForm(forms.Form):
    milestone = forms.ModelChoiceField(
        queryset=Milestone.objects.none(),
        help_text="The milestone whose date this act moves. The next page records the amendment.",
    )

    def __init__(self, *args, candidate: LawChangeCandidate, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["milestone"]
        field.queryset = milestones_movable(regulation=candidate.regulation)
        field.label_from_instance = lambda m: f"{m.date} · {m.title}"


@admin.register(LawChangeCandidate)
class LawChangeCandidateAdmin(EditorsOnly, admin.ModelAdmin):
    list_display = ["short_title", "regulation", "kind", "source", "status", "published_on",
                    "first_seen_at"]  # fmt: skip
    list_filter = ["status", "kind", "regulation", "source"]
    search_fields = ["title", "external_id", "link", "may_affect"]
    list_select_related = ["regulation"]
    date_hierarchy = "first_seen_at"
    actions = ["dismiss", "open_as_amendment"]
    fields = ["regulation", "title", "kind", "source", "status", "external_link", "external_id",
              "published_on", "may_affect", "open_link", "decided_by", "decided_at",
              "first_seen_at", "run", "raw_record"]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="title", ordering="title")
    def short_title(self, obj):
        return obj.title if len(obj.title) <= 120 else obj.title[:119] + "…"

    @admin.display(description="link")
    def external_link(self, obj):
        if not obj.link:
            return "-"
        return format_html('<a href="{}" rel="noopener noreferrer">{}</a>', obj.link, obj.link)

    @admin.display(description="open as amendment")
    def open_link(self, obj):
        url = reverse("admin:lawwatch_lawchangecandidate_open", args=[obj.pk])
        return format_html('<a class="button" href="{}">Open as amendment…</a>', url)

    @admin.display(description="raw record")
    def raw_record(self, obj):
        pretty = json.dumps(obj.raw, indent=2, ensure_ascii=False, sort_keys=True)
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', pretty)

    def has_decide_permission(self, request):
        return may_decide(request)

    @admin.action(description="Dismiss the selected new candidates", permissions=["decide"])
    def dismiss(self, request, queryset):
        count = candidates_dismiss(
            candidates=queryset, dismissed_by=request.user, now=timezone.now()
        )
        self.message_user(request, f"{count} candidate(s) dismissed.", messages.SUCCESS)

    @admin.action(description="Open the selected candidate as an amendment", permissions=["decide"])
    def open_as_amendment(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one candidate to open.", messages.WARNING)
            return None
        return redirect("admin:lawwatch_lawchangecandidate_open", queryset.get().pk)

    def get_urls(self):
        return [
            path(
                "<int:pk>/open/",
                self.admin_site.admin_view(self.open_view),
                name="lawwatch_lawchangecandidate_open",
            ),
            *super().get_urls(),
        ]

    def open_view(self, request, pk):
        """Pick the milestone the act moves, then go on to its pre-filled amendment form."""
        if not may_decide(request):
            raise PermissionDenied
        candidate = get_object_or_404(
            LawChangeCandidate.objects.select_related("regulation"), pk=pk
        )
        form = MilestoneChoiceForm(request.POST or None, candidate=candidate)
        if request.method == "POST" and form.is_valid():
            milestone = form.cleaned_data["milestone"]
            try:
                prefill = candidate_open_as_amendment(
                    candidate=candidate, milestone=milestone, used_by=request.user,
                    now=timezone.now(),
                )  # fmt: skip
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error(None, message)
            else:
                url = reverse("admin:catalogue_milestone_amend", args=[milestone.pk])
                return redirect(f"{url}?{urlencode(prefill)}")
        context = {
            **self.admin_site.each_context(request),
            "title": "Open as an amendment",
            "opts": self.model._meta,
            "original": candidate,
            "candidate": candidate,
            "form": form,
        }
        return TemplateResponse(
            request, "admin/lawwatch/lawchangecandidate/open_as_amendment.html", context
        )


@admin.register(LawWatchRun)
class LawWatchRunAdmin(EditorsOnly, admin.ModelAdmin):
    list_display = ["started_at", "status", "found", "new", "finished_at", "short_error"]
    list_filter = ["status"]
    date_hierarchy = "started_at"
    fields = ["started_at", "finished_at", "status", "found", "new", "error", "sources_pretty"]
    readonly_fields = fields

    @admin.display(description="error")
    def short_error(self, obj):
        first = obj.error.splitlines()[0] if obj.error else ""
        return first if len(first) <= 100 else first[:99] + "…"

    @admin.display(description="sources")
    def sources_pretty(self, obj):
        pretty = json.dumps(obj.sources, indent=2, ensure_ascii=False, sort_keys=True)
        return format_html("<pre>{}</pre>", pretty)
