"""Serious incidents (Art. 73): the list with their reporting clocks, recording, correcting."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import dateformat, timezone
from django.utils.text import Truncator
from django.views.decorators.http import require_http_methods, require_POST

from tracker.workspace import services
from tracker.workspace.clocks import report_periods, zone_of
from tracker.workspace.incident_forms import IncidentEditForm, IncidentForm
from tracker.workspace.models import Incident
from tracker.workspace.selectors import (
    editor_required,
    incidents_for,
    membership_get,
    organisation_members,
)

SOON_HOURS = 48  # the list highlights an unreported clock with less than this left


@login_required
@require_http_methods(["GET", "POST"])
def incidents(request, slug):
    """Serious incidents and their reporting clocks, the most urgent first."""
    membership = membership_get(user=request.user, slug=slug)
    org = membership.organisation
    periods = report_periods()
    members = organisation_members(org)
    form = IncidentForm(
        request.POST or None, organisation=org, members=members, periods=periods,
        recorded_by=request.user,
    )  # fmt: skip
    if request.method == "POST":
        editor_required(membership)
        if form.is_valid():
            services.incident_record(organisation=org, by=request.user, **form.cleaned_data)
            return redirect("workspace:incidents", slug=slug)
    clocks = incidents_for(organisation=org, now=timezone.now(), periods=periods)
    for row in clocks:
        hours = row["hours_left"]
        row["soon"] = (
            row["incident"].reported_at is None and hours is not None and 0 <= hours < SOON_HOURS
        )
    context = {
        "membership": membership, "org": org, "form": form, "clocks": clocks,
        "periods": [(label, periods[kind]) for kind, label in Incident.Kind.choices],
        "member_ids": set(members.values_list("pk", flat=True)),
        "soon_hours": SOON_HOURS,
    }  # fmt: skip
    return render(request, "workspace/incidents.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def incident_edit(request, slug, pk):
    """Correct an incident (what, where, when, who); every change is kept in its history."""
    membership = membership_get(user=request.user, slug=slug)
    editor_required(membership)
    org = membership.organisation
    incident = get_object_or_404(org.incidents.select_related("system", "owner"), pk=pk)
    form = IncidentEditForm(
        request.POST or None, instance=incident, organisation=org,
        members=organisation_members(org), periods=report_periods(),
    )  # fmt: skip
    if request.method == "POST" and form.is_valid():
        services.incident_update(incident=incident, by=request.user, **form.cleaned_data)
        return redirect("workspace:incidents", slug=slug)
    if form.is_bound:  # an invalid correction: the history shows what is saved
        incident = get_object_or_404(org.incidents.select_related("system", "owner"), pk=pk)
    context = {"membership": membership, "org": org, "incident": incident, "form": form,
               "history": incident_history(incident)}  # fmt: skip
    return render(request, "workspace/incident_edit.html", context,
                  status=400 if form.errors else 200)  # fmt: skip


@login_required
@require_POST
def incident_reported(request, slug, pk):
    membership = membership_get(user=request.user, slug=slug)
    editor_required(membership)
    incident = get_object_or_404(membership.organisation.incidents, pk=pk)
    services.incident_mark_reported(incident=incident, by=request.user)
    return redirect("workspace:incidents", slug=slug)


# The history of an incident, as "field: old → new" -----------------------------------------

HISTORY_LIMIT = 20
NOT_RECORDED = "Member State not recorded"


def incident_history(incident: Incident) -> list[dict]:
    """The latest changes, newest first: {"when", "who", "what", "changes": [(label, old,
    new)]}; the first entry lists what was recorded. Three queries."""
    records = list(
        incident.history.select_related("history_user").order_by("-history_date", "-history_id")[
            : HISTORY_LIMIT + 1
        ]
    )
    owner_ids = {record.owner_id for record in records} - {None}
    names = dict(get_user_model().objects.filter(pk__in=owner_ids).values_list("pk", "username"))
    entries = []
    for new, old in zip(records, [*records[1:], None], strict=True):
        now_values = _history_values(new, names)
        if old is None or new.history_type == "+":
            what, changes = "Recorded", [(label, None, value) for label, value in now_values]
        else:
            was = dict(_history_values(old, names))
            what = "Corrected"
            changes = [(label, was[label], value) for label, value in now_values
                       if was[label] != value]  # fmt: skip
        entries.append({"when": new.history_date, "who": new.history_user, "what": what,
                        "changes": changes})  # fmt: skip
    # The oldest row fetched only served as the "before" of the last one shown.
    return entries[:HISTORY_LIMIT]


def _history_values(record, names: dict[int, str]) -> list[tuple[str, str]]:
    instance = record.instance
    zone = ZoneInfo(zone_of(member_state=record.member_state, region=record.region))
    aware = timezone.localtime(record.aware_at, zone)
    reported = (
        dateformat.format(timezone.localtime(record.reported_at, zone), "j F Y, H:i")
        if record.reported_at else "not reported"
    )  # fmt: skip
    return [
        ("What happened", instance.kinds_display),
        ("Where", instance.place_display or NOT_RECORDED),
        ("Became aware", f"{dateformat.format(aware, 'j F Y, H:i')} ({zone.key})"),
        ("Description", Truncator(record.description).chars(120) or "none"),
        ("Owner", names.get(record.owner_id, "none") if record.owner_id else "none"),
        ("Reported", reported),
    ]
