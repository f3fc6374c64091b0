"""The dashboards: an organisation's (with its CSV export and its printable report) and the staff
overview."""

from __future__ import annotations

import csv

from django import forms
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import F
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from tracker.workspace.dashboard import (
    NOBODY,
    STAFF_PAGE_SIZE,
    DashboardFilters,
    DashboardSource,
    dashboard_source,
    dashboard_summarise,
    staff_organisations,
    staff_overview,
)
from tracker.workspace.models import TrackedItem
from tracker.workspace.selectors import (
    item_evidence_titles,
    items_all_for,
    membership_get,
    report_sections,
    stopped_first,
)

# What a spreadsheet would read as a formula (OWASP "CSV injection"), tab and CR included.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# The first thirteen columns are those of the export before duties; for a duty, "Title" is the
# duty's and "Milestone" the milestone's whose date it is tracked against.
CSV_HEADER = [
    "Milestone key", "Title", "Legal basis", "Legal date", "Target date", "Status", "Owner",
    "Notes", "Reasons", "Applies", "No longer applies since",
    "Why it no longer applies", "AI system", "Article", "Obligation key", "Milestone",
    "Evidence",
]  # fmt: skip
# The permission that opens the staff overview (every organisation's figures); being staff is
# not enough. Grant it in the admin (Users or Groups: "workspace | organisation | Can view").
STAFF_OVERVIEW_PERMISSION = "workspace.view_organisation"


class DashboardFilterForm(forms.Form):
    """The dashboard's filters; choices come from the rows already loaded."""

    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *TrackedItem.Status.choices]
    )
    category = forms.ChoiceField(required=False, label="Category")
    owner = forms.ChoiceField(required=False, label="Owner")
    system = forms.ChoiceField(required=False, label="AI system")

    def __init__(self, *args, source: DashboardSource, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", "Any category"), *source.categories]
        self.fields["owner"].choices = [
            ("", "Anyone"),
            (NOBODY, "Nobody yet"),
            *((str(u.pk), u.get_username()) for u in source.owners),
        ]
        self.fields["system"].choices = [
            ("", "Any system"),
            *((str(s.pk), s.name) for s in source.systems),
        ]

    def filters(self) -> DashboardFilters:
        """The valid filters; a value that is not a choice (an edited URL) is ignored."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return DashboardFilters(**{name: data.get(name) or "" for name in self.fields})


def htmx_partial(request) -> bool:
    """An htmx request for a fragment; a history restore wants the whole page (as in NetBox)."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get(
        "HX-History-Restore-Request"
    )


@login_required
@require_GET
def dashboard(request, slug):
    """The organisation's dashboard; htmx asks for the results region only."""
    membership = membership_get(user=request.user, slug=slug)
    org = membership.organisation
    source = dashboard_source(organisation=org)
    form = DashboardFilterForm(request.GET, source=source)
    today = timezone.localdate()
    context = {
        "membership": membership, "org": org, "form": form, "today": today,
        "board": dashboard_summarise(source, filters=form.filters(), today=today),
    }  # fmt: skip
    if htmx_partial(request):
        response = render(request, "workspace/partials/dashboard_results.html", context)
    else:
        response = render(request, "workspace/dashboard.html", context)
    patch_vary_headers(response, ["HX-Request"])  # the same URL answers with two bodies
    return response


def csv_safe(value) -> str:
    """A cell a spreadsheet shows as text: a leading formula character gets a quote."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _applies(item: TrackedItem) -> str:
    if item.applies:
        return "Yes"
    if item.is_kept:
        return "No longer, kept on purpose"
    return "No longer"


@login_required
@require_GET
def export(request, slug):
    """Every item, one CSV row each (viewers may export too): each duty with its system and
    article, and each milestone tracked as a whole; the tracked ones by date, then the ones
    that no longer apply, with since when and why."""
    membership = membership_get(user=request.user, slug=slug)
    org = membership.organisation
    today = timezone.localdate()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="jalon-{org.slug}-{today.isoformat()}.csv"'
    )
    response.write("\ufeff")  # so spreadsheet apps read the file as UTF-8
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    # Dated items by date, then the ones that run from an event, on every database.
    every = list(
        items_all_for(organisation=org).order_by(
            F("milestone__date").asc(nulls_last=True), "milestone__key"
        )
    )
    tracked = [item for item in every if item.is_tracked]
    evidence = item_evidence_titles(every)
    for item in [*tracked, *stopped_first(i for i in every if not i.is_tracked)]:
        m = item.milestone
        stopped = timezone.localtime(item.stopped_at).date().isoformat() if item.stopped_at else ""
        row = [
            m.key, item.title, m.legal_basis, m.date.isoformat() if m.date else "",
            item.target_date.isoformat() if item.target_date else "",
            item.get_status_display(), item.owner.get_username() if item.owner else "",
            item.notes,
            "; ".join(r.get("text", "") for r in item.reasons if isinstance(r, dict)),
            _applies(item), stopped if not item.applies else "",
            item.stopped_reason if not item.applies else "",
            item.scope_label, item.article, item.obligation.key if item.is_duty else "",
            m.title, "; ".join(evidence.get(item.pk, [])),
        ]  # fmt: skip
        writer.writerow([csv_safe(cell) for cell in row])
    return response


@login_required
@require_GET
def report(request, slug):
    """Every obligation on one page, a table per system, for an auditor or an investor: it
    prints (or saves as PDF from the browser) with a page per system and no navigation.
    Viewers may open it."""
    membership = membership_get(user=request.user, slug=slug)
    org = membership.organisation
    items = list(items_all_for(organisation=org))
    context = {
        "membership": membership, "org": org, "today": timezone.localdate(),
        "now": timezone.localtime(),
        **report_sections(items=items, systems=org.systems.all()),
    }  # fmt: skip
    return render(request, "workspace/report.html", context)


@staff_member_required
@permission_required(STAFF_OVERVIEW_PERMISSION, raise_exception=True)
@require_GET
def staff_dashboard(request):
    """Every organisation at a glance, for staff who may view organisations (403 for other
    staff), in the admin's look."""
    today = timezone.localdate()
    search = request.GET.get("q", "").strip()[:100].replace("\x00", "")
    paginator = Paginator(staff_organisations(search=search), STAFF_PAGE_SIZE)
    number = request.GET.get("page")
    # "last" as in the admin's lists; a bad page number shows the nearest page
    page = paginator.get_page(paginator.num_pages if number == "last" else number)
    context = {
        **admin.site.each_context(request),
        "title": "Workspace dashboard",
        "rows": staff_overview(organisations=page.object_list, today=today),
        "page": page,
        "search": search,
        "today": today,
    }
    return render(request, "admin/workspace_dashboard.html", context)
