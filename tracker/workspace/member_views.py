"""Pages for membership: who is in an organisation, invitations, leaving and removing."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from tracker.workspace import members as members_services
from tracker.workspace.forms import InvitationForm
from tracker.workspace.models import Membership
from tracker.workspace.selectors import membership_get


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
