"""Pages for membership: who is in an organisation, roles, ownership, invitations, leaving.

Nothing destructive happens on one click: leaving, removing someone and revoking an invitation
each go through a confirmation page whose form carries an explicit `confirm=yes`.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Max
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from tracker.outbox.models import Message
from tracker.workspace import members as members_services
from tracker.workspace.forms import InvitationForm, MemberRoleForm, OwnershipTransferForm
from tracker.workspace.models import Membership
from tracker.workspace.notifications import INVITATION
from tracker.workspace.selectors import membership_get

OWNER = Membership.Role.OWNER
# Refusals that mean "not now" rather than "not like this".
RATE_LIMITED = {"rate_limited", "too_soon"}


def _owner_only(membership: Membership, what: str) -> None:
    if membership.role != OWNER:
        raise PermissionDenied(f"Only owners can {what}.")


def _confirmed(request) -> bool:
    return request.POST.get("confirm") == "yes"


def _status(exc: ValidationError) -> int:
    return 429 if getattr(exc, "code", None) in RATE_LIMITED else 400


def _pending(org) -> list:
    """The open invitations, newest first, each with when its last email was queued."""
    last = dict(
        Message.objects.filter(kind=INVITATION, topic__startswith=f"invitation:{org.pk}:")
        .values_list("topic")
        .annotate(last=Max("created_at"))
    )
    pending = list(org.invitations.filter(accepted_at=None).order_by("-created_at"))
    for invitation in pending:
        invitation.last_sent = last.get(f"invitation:{org.pk}:{invitation.pk}")
    return pending


def _members_page(request, membership, form, *, status=200, error=""):
    org = membership.organisation
    context = {
        "membership": membership, "org": org, "form": form, "error": error,
        "roles": Membership.Role.choices,
        "members": org.memberships.select_related("user").order_by("user__username"),
        "pending": _pending(org) if membership.role == OWNER else [],
    }  # fmt: skip
    return render(request, "workspace/members.html", context, status=status)


def _announce(request, sent: members_services.InvitationSent, verb: str) -> None:
    invitation = sent.invitation
    if sent.held_back:
        messages.warning(
            request,
            f"The invitation to {invitation.email} is open, but its email was held back: "
            f"{sent.held_back} Resend it later.",
        )
    else:
        messages.success(request, f"Invitation {verb} to {invitation.email}.")


@login_required
@require_http_methods(["GET", "POST"])
def members(request, slug):
    """Who is in the organisation; owners invite by email and manage roles and invitations."""
    membership = membership_get(user=request.user, slug=slug)
    form = InvitationForm(request.POST or None)
    if request.method == "POST":
        _owner_only(membership, "invite")
        if form.is_valid():
            try:
                sent = members_services.invitation_send(
                    organisation=membership.organisation, by=request.user, **form.cleaned_data
                )
            except ValidationError as exc:
                form.add_error(None, exc)
                return _members_page(request, membership, form, status=_status(exc))
            _announce(request, sent, "sent")
            return redirect("workspace:members", slug=slug)
    return _members_page(request, membership, form, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def member_remove(request, slug, pk):
    """Leave the organisation (your own membership) or, as an owner, remove someone: a page
    that says what follows, then its confirmed form."""
    membership = membership_get(user=request.user, slug=slug)
    org = membership.organisation
    target = get_object_or_404(org.memberships.select_related("user"), pk=pk)
    members_services.membership_end_check(membership=target, by=membership)
    leaving = target.pk == membership.pk
    error, status = "", 200
    if request.method == "POST":
        if not _confirmed(request):
            error, status = "Nothing changed: confirm with the button below.", 400
        else:
            try:
                members_services.membership_end(membership=target, by=membership)
            except ValidationError as exc:
                error, status = " ".join(exc.messages), 400
            else:
                if leaving:
                    return render(request, "workspace/members/left.html", {"org": org})
                messages.success(request, f"{target.user.username} was removed from {org.name}.")
                return redirect("workspace:members", slug=slug)
    context = {
        "membership": membership, "org": org, "target": target, "leaving": leaving,
        "error": error,
        "last_owner": target.role == OWNER and not org.memberships.filter(role=OWNER)
        .exclude(pk=target.pk).exists(),
        "owned": org.items.filter(owner=target.user).count(),
    }  # fmt: skip
    return render(request, "workspace/members/remove.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def member_role(request, slug, pk):
    """An owner changes a member's role (their own too: giving up ownership needs a tick)."""
    membership = membership_get(user=request.user, slug=slug)
    _owner_only(membership, "change roles")
    org = membership.organisation
    target = get_object_or_404(org.memberships.select_related("user"), pk=pk)
    own_ownership = target.pk == membership.pk and target.role == OWNER
    form = MemberRoleForm(
        request.POST or None, initial={"role": target.role}, own_ownership=own_ownership
    )
    if request.method == "POST" and form.is_valid():
        try:
            changed = members_services.membership_role_change(
                membership=target, role=form.cleaned_data["role"], by=membership
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, f"{changed.user.username} is now {changed.get_role_display().lower()}."
            )
            return redirect("workspace:members", slug=slug)
    context = {"membership": membership, "org": org, "target": target, "form": form,
               "own": target.pk == membership.pk}  # fmt: skip
    return render(
        request, "workspace/members/role.html", context, status=400 if form.errors else 200
    )


@login_required
@require_http_methods(["GET", "POST"])
def ownership_transfer(request, slug):
    """An owner makes another member owner and may step down in the same step."""
    membership = membership_get(user=request.user, slug=slug)
    _owner_only(membership, "transfer ownership")
    org = membership.organisation
    candidates = (
        org.memberships.exclude(role=OWNER).select_related("user").order_by("user__username")
    )
    form = OwnershipTransferForm(request.POST or None, candidates=candidates)
    if request.method == "POST" and form.is_valid():
        try:
            new_owner = members_services.ownership_transfer(
                to=form.cleaned_data["to"], by=membership, then=form.cleaned_data["then"]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            then = dict(Membership.Role.choices)[form.cleaned_data["then"]].lower()
            note = "" if form.cleaned_data["then"] == OWNER else f" You are now {then}."
            messages.success(request, f"{new_owner.user.username} is now an owner.{note}")
            return redirect("workspace:members", slug=slug)
    context = {
        "membership": membership, "org": org, "form": form,
        "has_candidates": candidates.exists(),
        "other_owners": org.memberships.filter(role=OWNER).exclude(pk=membership.pk)
        .select_related("user"),
    }  # fmt: skip
    return render(
        request, "workspace/members/transfer.html", context, status=400 if form.errors else 200
    )


@login_required
@require_http_methods(["GET", "POST"])
def invitation_revoke(request, slug, pk):
    """An owner withdraws a pending invitation, after a confirmation page."""
    membership = membership_get(user=request.user, slug=slug)
    _owner_only(membership, "revoke invitations")
    org = membership.organisation
    invitation = get_object_or_404(org.invitations.filter(accepted_at=None), pk=pk)
    error, status = "", 200
    if request.method == "POST":
        if not _confirmed(request):
            error, status = "Nothing changed: confirm with the button below.", 400
        else:
            try:
                members_services.invitation_revoke(invitation=invitation, by=request.user)
            except ValidationError as exc:
                error, status = " ".join(exc.messages), 400
            else:
                messages.success(
                    request,
                    f"The invitation to {invitation.email} is revoked: its link no longer works.",
                )
                return redirect("workspace:members", slug=slug)
    context = {"membership": membership, "org": org, "invitation": invitation, "error": error}
    return render(request, "workspace/members/revoke.html", context, status=status)


@login_required
@require_POST
def invitation_resend(request, slug, pk):
    """An owner sends a pending invitation again, with a fresh link (once per 10 minutes)."""
    membership = membership_get(user=request.user, slug=slug)
    _owner_only(membership, "resend invitations")
    invitation = get_object_or_404(
        membership.organisation.invitations.filter(accepted_at=None), pk=pk
    )
    try:
        sent = members_services.invitation_resend(invitation=invitation, by=request.user)
    except ValidationError as exc:
        return _members_page(
            request, membership, InvitationForm(), status=_status(exc), error=" ".join(exc.messages)
        )
    _announce(request, sent, "sent again")
    return redirect("workspace:members", slug=slug)


def _address_hint(email: str) -> str:
    """The address as a hint (t•••@example.org): enough for its owner to recognise."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}"


@login_required
@require_http_methods(["GET", "POST"])
def invitation(request, token):
    """Accept an invitation from its emailed link: signed in with the invited address, verified.

    Anyone else is told why not (another account, or an address not verified yet), and nothing
    is joined.
    """
    found = members_services.invitation_from_token(token)
    if found is None:
        return render(request, "reminders/link_invalid.html", status=404)
    refusal = members_services.invitation_refusal(invitation=found, user=request.user)
    error = ""
    if request.method == "POST" and not refusal:
        try:
            joined = members_services.invitation_accept(invitation=found, user=request.user)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            return redirect("workspace:timeline", slug=joined.organisation.slug)
    context = {
        "invitation": found, "refusal": refusal, "error": error,
        "reason": members_services.REFUSALS.get(refusal, ""),
        "hint": _address_hint(found.email),
    }  # fmt: skip
    status = 403 if refusal else 400 if error else 200
    return render(request, "workspace/invitation.html", context, status=status)
