from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from tracker.workspace import services
from tracker.workspace.clocks import incident_deadline
from tracker.workspace.forms import (
    IncidentForm,
    ItemForm,
    OrganisationForm,
    RolesForm,
    SignupForm,
    SystemForm,
)
from tracker.workspace.models import AISystem, Membership
from tracker.workspace.selectors import (
    incidents_for,
    items_for,
    membership_get,
    timeline_split,
)


def _editor(membership: Membership) -> None:
    if not membership.can_edit:
        raise PermissionDenied("Viewers can read but not change this organisation.")


def _members(organisation):
    return get_user_model().objects.filter(memberships__organisation=organisation)


@require_http_methods(["GET", "POST"])
def signup(request):
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("workspace:home")
    return render(request, "registration/signup.html", {"form": form},
                  status=400 if form.errors else 200)  # fmt: skip


@login_required
@require_http_methods(["GET", "POST"])
def home(request):
    """The organisations I belong to, and a form to create one."""
    form = OrganisationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        organisation = services.organisation_create(
            name=form.cleaned_data["name"], owner=request.user
        )
        return redirect("workspace:timeline", slug=organisation.slug)
    memberships = request.user.memberships.select_related("organisation").order_by(
        "organisation__name"
    )
    return render(request, "workspace/home.html", {"form": form, "memberships": memberships},
                  status=400 if form.errors else 200)  # fmt: skip


@login_required
def timeline(request, slug):
    """The organisation's personal timeline: what applies, why, and how it is going."""
    membership = membership_get(user=request.user, slug=slug)
    items = list(items_for(organisation=membership.organisation))
    context = {
        "membership": membership,
        "org": membership.organisation,
        "groups": timeline_split(items, timezone.localdate()),
        "total": len(items),
        "today": timezone.localdate(),
    }
    return render(request, "workspace/timeline.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def profile(request, slug):
    membership = membership_get(user=request.user, slug=slug)
    org = membership.organisation
    form = RolesForm(request.POST or None, initial={"roles": org.roles})
    if request.method == "POST":
        _editor(membership)
        if form.is_valid():
            services.organisation_set_roles(organisation=org, roles=form.cleaned_data["roles"])
            return redirect("workspace:systems", slug=slug)
    context = {"membership": membership, "org": org, "form": form}
    return render(request, "workspace/profile.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def systems(request, slug, pk=None):
    """The AI system inventory, with a form to add (or, with pk, change) a system."""
    membership = membership_get(user=request.user, slug=slug)
    org = membership.organisation
    instance = get_object_or_404(AISystem, pk=pk, organisation=org) if pk else None
    form = SystemForm(request.POST or None, instance=instance)
    if request.method == "POST":
        _editor(membership)
        if form.is_valid():
            system = form.save(commit=False)
            system.organisation = org
            services.system_save(system=system)
            return redirect("workspace:systems", slug=slug)
    context = {"membership": membership, "org": org, "form": form, "editing": instance,
               "systems": org.systems.all()}  # fmt: skip
    return render(request, "workspace/systems.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def item(request, slug, pk):
    membership = membership_get(user=request.user, slug=slug)
    org = membership.organisation
    tracked = get_object_or_404(org.items.select_related("milestone", "owner"), pk=pk)
    form = ItemForm(request.POST or None, instance=tracked, members=_members(org))
    if request.method == "POST":
        _editor(membership)
        if form.is_valid():
            changes = {name: form.cleaned_data[name] for name in form.Meta.fields}
            services.item_update(
                item=tracked, by=request.user, evidence_links=form.cleaned_data["evidence"],
                **changes,
            )  # fmt: skip
            return redirect("workspace:timeline", slug=slug)
    history = tracked.history.select_related("history_user")[:20]
    context = {"membership": membership, "org": org, "item": tracked, "form": form,
               "history": history}  # fmt: skip
    return render(request, "workspace/item.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def incidents(request, slug):
    """Serious incidents and their Art. 73 reporting clocks."""
    membership = membership_get(user=request.user, slug=slug)
    org = membership.organisation
    form = IncidentForm(request.POST or None, organisation=org, members=_members(org))
    if request.method == "POST":
        _editor(membership)
        if form.is_valid():
            services.incident_record(organisation=org, **form.cleaned_data)
            return redirect("workspace:incidents", slug=slug)
    now, tz = timezone.now(), timezone.get_current_timezone_name()
    clocks = []
    for incident in incidents_for(organisation=org):
        deadline = incident_deadline(kind=incident.kind, aware_at=incident.aware_at, tz=tz)
        hours_left = int((deadline - now).total_seconds() // 3600)
        clocks.append({"incident": incident, "deadline": deadline, "hours_left": hours_left})
    context = {"membership": membership, "org": org, "form": form, "clocks": clocks}
    return render(request, "workspace/incidents.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def incident_reported(request, slug, pk):
    membership = membership_get(user=request.user, slug=slug)
    _editor(membership)
    incident = get_object_or_404(membership.organisation.incidents, pk=pk)
    services.incident_mark_reported(incident=incident)
    return redirect("workspace:incidents", slug=slug)
