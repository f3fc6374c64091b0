"""API token pages, under /w/<slug>/tokens/: a member's own tokens for one organisation.

Every member lists, makes and revokes their own tokens (viewers read-only ones only); nobody
sees or revokes anyone else's (404, like a token that does not exist). A new token's secret is
shown once, on the page that answers its creation, never stored and never cached.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from tracker.workspace.api_tokens import (
    CREATE_LIMIT,
    DEFAULT_DAYS,
    MAX_DAYS,
    VIEWERS_READ_ONLY_TOKENS,
    default_expiry,
    expiry_bounds,
    expiry_validate,
    token_create,
    token_get,
    token_revoke,
    tokens_for,
)
from tracker.workspace.selectors import membership_get

READ_ONLY, READ_WRITE = "read_only", "read_write"


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What uses it, so that you know what to revoke: “Deadline script”.",
    )
    expires_on = forms.DateField(
        label="Valid until", widget=forms.DateInput(attrs={"type": "date"}),
        help_text=f"Through the end of that day; at most {MAX_DAYS} days ahead.",
    )  # fmt: skip
    access = forms.ChoiceField(
        label="Access",
        choices=[(READ_ONLY, "Read-only"), (READ_WRITE, "Read and write")],
        widget=forms.RadioSelect,
        initial=READ_ONLY,
    )

    def __init__(self, *args, can_edit: bool, today, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        first, last = expiry_bounds(today)
        self.fields["expires_on"].widget.attrs.update(min=first.isoformat(), max=last.isoformat())
        self.fields["expires_on"].initial = default_expiry(today)
        if not can_edit:
            self.fields["access"].help_text = VIEWERS_READ_ONLY_TOKENS

    def clean_expires_on(self):
        value = self.cleaned_data["expires_on"]
        try:
            expiry_validate(value, self.today)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["expires_on"]) from exc
        return value


def _add_errors(form: forms.Form, exc: ValidationError) -> None:
    """A service's refusal, onto the form's fields (or the whole form)."""
    by_field = exc.error_dict if hasattr(exc, "error_dict") else {None: exc.error_list}
    for field, errors in by_field.items():
        target = "access" if field == "read_only" else field
        form.add_error(target if target in form.fields else None, errors)


def _page(request, membership, form, *, status=200, created=None):
    org = membership.organisation
    context = {
        "membership": membership, "org": org, "form": form, "created": created,
        "tokens": list(tokens_for(user=request.user, organisation=org)), "now": timezone.now(),
        "create_limit": CREATE_LIMIT, "default_days": DEFAULT_DAYS, "max_days": MAX_DAYS,
    }  # fmt: skip
    return render(request, "workspace/tokens/list.html", context, status=status)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def tokens(request, slug):
    """The person's tokens for the organisation, and the form to make one."""
    membership = membership_get(user=request.user, slug=slug)
    today = timezone.localdate()
    form = TokenForm(request.POST or None, can_edit=membership.can_edit, today=today)
    if request.method != "POST":
        return _page(request, membership, form)
    if form.is_valid():
        data = form.cleaned_data
        try:
            created = token_create(
                membership=membership, name=data["name"], expires_on=data["expires_on"],
                read_only=data["access"] == READ_ONLY,
            )  # fmt: skip
        except ValidationError as exc:
            _add_errors(form, exc)
            limited = not hasattr(exc, "error_dict") and exc.code == "rate_limited"
            return _page(request, membership, form, status=429 if limited else 400)
        fresh = TokenForm(can_edit=membership.can_edit, today=today)
        return _page(request, membership, fresh, status=201, created=created)
    return _page(request, membership, form, status=400)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def token_revoke_view(request, slug, pk):
    """Ask, then revoke one of the person's own tokens."""
    membership = membership_get(user=request.user, slug=slug)
    token = token_get(user=request.user, organisation=membership.organisation, pk=pk)
    if request.method == "POST":
        token_revoke(token=token)
        return redirect(f"{reverse('workspace:tokens', kwargs={'slug': slug})}#token-{token.pk}")
    context = {"membership": membership, "org": membership.organisation, "token": token}
    return render(request, "workspace/tokens/revoke.html", context)
