"""Save the public checker's answers to a new organisation, after sign-up."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from tracker.workspace.facts_links import FactsLinkInvalid, facts_link_read, facts_summary
from tracker.workspace.forms import OrganisationForm
from tracker.workspace.services import organisation_import


@login_required(login_url="signup")
@require_http_methods(["GET", "POST"])
def organisation_import_view(request):
    """Save the checker's answers to a new organisation: confirm its name, then create it."""
    try:
        _, company, _ = facts_link_read(request.GET.get("f", ""), today=timezone.localdate())
    except FactsLinkInvalid as exc:
        context = {"invalid": exc}
        return render(request, "workspace/import.html", context, status=400)
    form = OrganisationForm(request.POST or None, initial={"name": "My company"})
    if request.method == "POST" and form.is_valid():
        organisation = organisation_import(
            name=form.cleaned_data["name"], owner=request.user, company=company
        )
        return redirect("workspace:timeline", slug=organisation.slug)
    context = {"form": form, "summary": facts_summary(company)}
    return render(request, "workspace/import.html", context, status=400 if form.errors else 200)
