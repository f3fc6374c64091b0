"""Serious incidents (Art. 73): the list with their reporting clocks, recording, correcting."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from tracker.workspace import services
from tracker.workspace.clocks import report_periods
from tracker.workspace.incident_forms import IncidentEditForm, IncidentForm
from tracker.workspace.models import Incident
from tracker.workspace.selectors import incidents_for, membership_get
from tracker.workspace.views import _editor, _members


@login_required
@require_http_methods(["GET", "POST"])
def incidents(request, slug):
    """Serious incidents and their reporting clocks, the most urgent first."""
    membership = membership_get(user=request.user, slug=slug)
    org = membership.organisation
    periods = report_periods()
    form = IncidentForm(
        request.POST or None, organisation=org, members=_members(org), periods=periods
    )
    if request.method == "POST":
        _editor(membership)
        if form.is_valid():
            services.incident_record(organisation=org, by=request.user, **form.cleaned_data)
            return redirect("workspace:incidents", slug=slug)
    context = {
        "membership": membership, "org": org, "form": form,
        "periods": [(label, periods[kind]) for kind, label in Incident.Kind.choices],
        "clocks": incidents_for(organisation=org, now=timezone.now(), periods=periods),
    }  # fmt: skip
    return render(request, "workspace/incidents.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def incident_edit(request, slug, pk):
    """Correct an incident (where, what, when); every change is kept in its history."""
    membership = membership_get(user=request.user, slug=slug)
    _editor(membership)
    org = membership.organisation
    incident = get_object_or_404(org.incidents.select_related("system", "owner"), pk=pk)
    form = IncidentEditForm(
        request.POST or None, instance=incident, organisation=org, members=_members(org),
        periods=report_periods(),
    )  # fmt: skip
    if request.method == "POST" and form.is_valid():
        services.incident_update(incident=incident, by=request.user, **form.cleaned_data)
        return redirect("workspace:incidents", slug=slug)
    history = incident.history.select_related("history_user")[:20]
    context = {"membership": membership, "org": org, "incident": incident, "form": form,
               "history": history}  # fmt: skip
    return render(request, "workspace/incident_edit.html", context,
                  status=400 if form.errors else 200)  # fmt: skip


@login_required
@require_POST
def incident_reported(request, slug, pk):
    membership = membership_get(user=request.user, slug=slug)
    _editor(membership)
    incident = get_object_or_404(membership.organisation.incidents, pk=pk)
    services.incident_mark_reported(incident=incident)
    return redirect("workspace:incidents", slug=slug)
