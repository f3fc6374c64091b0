"""Pages about Jalon itself: what the workspace is for, and where a person lands after signing
in (the sign-in's default destination; a `next` address, when there is one, wins)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from tracker.workspace.selectors import landing_for


@require_GET
def for_companies(request):
    """The public page that explains the workspace and invites a company to sign up."""
    return render(request, "web/for_companies.html")


@login_required
@require_GET
def signed_in(request):
    """Sends a person where they work (see `landing_for`)."""
    landing = landing_for(request.user)
    return redirect(landing.view, **landing.kwargs)
