from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from tracker.reminders.personal import personal_configure, personal_settings
from tracker.workspace import mail_settings, services
from tracker.workspace import members as members_services
from tracker.workspace.forms import (
    CompanyFactsForm,
    InvitationForm,
    ItemForm,
    OrganisationForm,
    ReminderSettingsForm,
    SignupForm,
    SystemForm,
)
from tracker.workspace.models import AISystem, Membership
from tracker.workspace.notifications import owner_reminders_sync
from tracker.workspace.selectors import (
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
    next_url = request.POST.get("next") or request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(next_url or "workspace:home")
    return render(request, "registration/signup.html", {"form": form, "next": next_url},
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
    form = CompanyFactsForm(request.POST or None, instance=org)
    if request.method == "POST":
        _editor(membership)
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
def members(request, slug):
    """Who is in the organisation; owners invite by email."""
    membership = membership_get(user=request.user, slug=slug)
    org = membership.organisation
    form = InvitationForm(request.POST or None)
    sent = None
    if request.method == "POST":
        if membership.role != Membership.Role.OWNER:
            raise PermissionDenied("Only owners can invite.")
        if form.is_valid():
            sent = members_services.invitation_send(organisation=org, by=request.user,
                                                    **form.cleaned_data)  # fmt: skip
            form = InvitationForm()
    context = {
        "membership": membership, "org": org, "form": form, "sent": sent,
        "members": org.memberships.select_related("user").order_by("user__username"),
        "pending": org.invitations.filter(accepted_at=None).order_by("-created_at"),
    }  # fmt: skip
    return render(request, "workspace/members.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def member_remove(request, slug, pk):
    """Leave the organisation (your own membership) or, as an owner, remove someone."""
    membership = membership_get(user=request.user, slug=slug)
    target = get_object_or_404(membership.organisation.memberships, pk=pk)
    try:
        members_services.membership_end(membership=target, by=membership)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("workspace:members", slug=slug)
    if target.pk == membership.pk:
        return redirect("workspace:home")
    return redirect("workspace:members", slug=slug)


@login_required
@require_http_methods(["GET", "POST"])
def invitation(request, token):
    """Accept an invitation from its emailed link (after signing in or signing up)."""
    found = members_services.invitation_from_token(token)
    if found is None:
        return render(request, "reminders/link_invalid.html", status=404)
    if request.method == "POST":
        members_services.invitation_accept(invitation=found, user=request.user)
        return redirect("workspace:timeline", slug=found.organisation.slug)
    return render(request, "workspace/invitation.html", {"invitation": found})


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
