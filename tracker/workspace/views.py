from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from tracker.reminders.personal import personal_configure, personal_settings
from tracker.workspace import mail_settings, services
from tracker.workspace.forms import (
    CompanyFactsForm,
    ItemForm,
    OrganisationForm,
    ReminderSettingsForm,
    SystemForm,
)
from tracker.workspace.models import AISystem
from tracker.workspace.notifications import owner_reminders_sync
from tracker.workspace.selectors import (
    deadline_words,
    duty_rollups,
    editor_required,
    item_get,
    item_groups,
    item_history,
    items_all_for,
    membership_get,
    organisation_members,
    timeline_split,
)


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
    """The organisation's personal timeline: what applies, why, and how it is going; each
    duty under its milestone and system, with the roll-up of that system's duties."""
    membership = membership_get(user=request.user, slug=slug)
    items = list(items_all_for(organisation=membership.organisation))
    groups = timeline_split(items, timezone.localdate())
    rollups = duty_rollups(items)
    context = {
        "membership": membership,
        "org": membership.organisation,
        "groups": groups,
        "sections": {name: item_groups(group, rollups) for name, group in groups.items()},
        "rollups": list(rollups.values()),
        "total": len(items) - len(groups["stopped"]),
        "today": timezone.localdate(),
    }
    return render(request, "workspace/timeline.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def profile(request, slug):
    membership = membership_get(user=request.user, slug=slug)
    org = membership.organisation
    form = CompanyFactsForm(request.POST or None, instance=org)
    if request.method == "POST":
        editor_required(membership)
        if request.POST.get("review") == "done":
            services.organisation_review_dismiss(organisation=org)
            return redirect("workspace:profile", slug=slug)
        if form.is_valid():
            services.organisation_set_facts(organisation=org, **form.cleaned_data)
            return redirect("workspace:systems", slug=slug)
    context = {"membership": membership, "org": org, "form": form}
    return render(request, "workspace/profile.html", context, status=400 if form.errors else 200)


def _system_initial(instance: AISystem | None) -> dict:
    return {} if instance else {"roles": ["deployer"]}


@login_required
@require_http_methods(["GET", "POST"])
def systems(request, slug, pk=None):
    """The AI system inventory, with a form to add (or, with pk, change) a system."""
    membership = membership_get(user=request.user, slug=slug)
    org = membership.organisation
    instance = get_object_or_404(AISystem, pk=pk, organisation=org) if pk else None
    form = SystemForm(request.POST or None, instance=instance, initial=_system_initial(instance))
    if request.method == "POST":
        editor_required(membership)
        if form.is_valid():
            system = form.save(commit=False)
            system.organisation = org
            services.system_save(system=system, by=request.user)
            return redirect("workspace:systems", slug=slug)
    context = {"membership": membership, "org": org, "form": form, "editing": instance,
               "systems": org.systems.all()}  # fmt: skip
    return render(request, "workspace/systems.html", context, status=400 if form.errors else 200)


KEEP_CHOICES = {"keep": True, "stop": False}


@login_required
@require_http_methods(["GET", "POST"])
def item(request, slug, pk):
    """One item: why it applies (or no longer does), its tracking form, and its history.

    A POST with `keep` ("keep" or "stop") keeps tracking, on purpose, an item the rules no
    longer select, or stops keeping it; any other POST saves the form.
    """
    membership = membership_get(user=request.user, slug=slug)
    org = membership.organisation
    tracked = item_get(organisation=org, pk=pk)
    if request.method == "POST" and "keep" in request.POST:
        editor_required(membership)
        keep = KEEP_CHOICES.get(request.POST["keep"])
        if keep is None or tracked.applies:
            return HttpResponseBadRequest(
                "Only an item that no longer applies can be kept (keep=keep) or let go (keep=stop)."
            )
        services.item_keep_tracking(item=tracked, by=request.user, keep=keep)
        anchor = f"#item-{tracked.pk}"
        return redirect(reverse("workspace:timeline", kwargs={"slug": slug}) + anchor)
    form = ItemForm(request.POST or None, instance=tracked, members=organisation_members(org))
    if request.method == "POST":
        editor_required(membership)
        if form.is_valid():
            changes = {name: form.cleaned_data[name] for name in form.Meta.fields}
            try:
                services.item_update(item=tracked, by=request.user, **changes)
            except ValidationError as exc:  # e.g. the chosen owner left in the meantime
                for field, errors in getattr(exc, "error_dict", {None: exc.error_list}).items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                return redirect("workspace:timeline", slug=slug)
    context = {
        "membership": membership, "org": org, "item": tracked, "form": form,
        "history": item_history(item=tracked), "deadline": deadline_words(tracked.milestone),
        "overdue": tracked.is_tracked and tracked.is_overdue(timezone.localdate()),
    }  # fmt: skip
    return render(request, "workspace/item.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def my_reminders(request, slug):
    """What I hear about the items I own here, and when: my deadline reminders (the reminder
    engine's, back on even after I used an email's unsubscribe link) and each workspace email."""
    membership = membership_get(user=request.user, slug=slug)
    org = membership.organisation
    key = mail_settings.owner_key(organisation_id=org.pk, user_id=request.user.pk)
    current = personal_settings(key=key)
    flags = mail_settings.mail_settings(organisation=org, user=request.user)
    initial = {"enabled": current.enabled, "lead_days": ", ".join(map(str, current.lead_days)),
               "timezone": current.timezone, "send_hour": current.send_hour,
               **{name: getattr(flags, name) for name in mail_settings.STOPPABLE}}  # fmt: skip
    form = ReminderSettingsForm(request.POST or None, initial=initial)
    saved = False
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        personal_configure(
            key=key, email=request.user.email, manage_url=mail_settings.settings_url(org),
            enabled=data["enabled"], lead_days=data["lead_days"], tz=data["timezone"],
            send_hour=data["send_hour"],
        )  # fmt: skip
        owner_reminders_sync(organisation=org, user=request.user)
        mail_settings.mail_settings_save(
            organisation=org, user=request.user,
            **{name: data[name] for name in mail_settings.STOPPABLE},
        )  # fmt: skip
        saved = True
        current = personal_settings(key=key)
    context = {"membership": membership, "org": org, "form": form, "saved": saved,
               "current": current}  # fmt: skip
    return render(request, "workspace/my_reminders.html", context,
                  status=400 if form.errors else 200)  # fmt: skip


@csrf_exempt  # RFC 8058: mail clients POST here without a CSRF token; the signed token is the proof
@require_http_methods(["GET", "POST"])
def mail_stop(request, token):
    """One-click stop of one kind of workspace email: GET asks (link scanners must not act)."""
    found = mail_settings.stop_from_token(token)
    if found is None:
        return render(request, "reminders/link_invalid.html", status=404)
    label = ReminderSettingsForm.base_fields[found["k"]].label
    if request.method == "POST":
        mail_settings.mail_stop(kind=found["k"], user_id=found["u"], organisation_id=found["o"])
        return render(request, "workspace/mail_stopped.html", {"label": label})
    return render(request, "workspace/mail_stop.html", {"label": label})
