"""Account pages: sign up, verify an address, send the link again (signing in and password
resets are Django's views, with the forms in forms.py)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, PasswordResetView
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods, require_POST

from tracker.accounts import emails
from tracker.accounts.forms import LoginForm, SignupForm, VerifiedPasswordResetForm
from tracker.accounts.services import account_signup, email_verify, verification_link_send
from tracker.accounts.tokens import verification_from_token
from tracker.accounts.verification import email_verified, verification_state

BACKEND = "tracker.accounts.backends.EmailOrUsernameBackend"
SIGNUP_SESSION_KEY = "accounts_signup_email"

login_view = LoginView.as_view(authentication_form=LoginForm)
password_reset_view = PasswordResetView.as_view(form_class=VerifiedPasswordResetForm)


def _safe_next(request, url: str) -> str:
    ok = url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return url if url and ok else ""


@require_http_methods(["GET", "POST"])
def signup(request):
    """The same answer for a new address and a known one: "check your inbox"."""
    form = SignupForm(request.POST or None)
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next", ""))
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        account_signup(
            email=email, password=form.cleaned_data["password1"],
            language=emails.request_language(request), next_url=next_url,
        )  # fmt: skip
        # Both answers carry this session key: the browser that signed up is signed in when
        # it opens the link; any other browser that opens it is asked for the password.
        request.session[SIGNUP_SESSION_KEY] = email.lower()
        done = reverse("signup_done")
        return redirect(f"{done}?{urlencode({'next': next_url})}" if next_url else done)
    return render(request, "registration/signup.html", {"form": form, "next": next_url},
                  status=400 if form.errors else 200)  # fmt: skip


def signup_done(request):
    return render(request, "accounts/check_inbox.html", {
        "days": settings.EMAIL_VERIFICATION_MAX_AGE.days,
        "next": _safe_next(request, request.GET.get("next", "")),
    })  # fmt: skip


def _link_invalid(request, reason: str = ""):
    return render(request, "accounts/link_invalid.html", {"reason": reason}, status=404)


@require_http_methods(["GET", "POST"])
def verify_email(request, token):
    """GET shows a button (mail scanners follow links; they must not verify); POST verifies."""
    link = verification_from_token(token)
    if link is None:
        return _link_invalid(request)
    user = link.user
    if not user.email or user.email.lower() != link.email:
        return _link_invalid(request, "changed")
    if request.method == "GET":
        return render(request, "accounts/verify.html", {"email": user.email})
    email_verify(user=user, email=link.email)
    next_url = _safe_next(request, link.next_url)
    signed_up_here = request.session.get(SIGNUP_SESSION_KEY) == user.email.lower()
    if signed_up_here and not request.user.is_authenticated:
        request.session.pop(SIGNUP_SESSION_KEY, None)
        login(request, user, backend=BACKEND)
    if request.user.is_authenticated and request.user.pk == user.pk:
        return redirect(next_url or "workspace:home")
    return render(request, "accounts/verified.html", {"email": user.email, "next": next_url})


@login_required
@require_POST
def verify_email_resend(request):
    """The banner's button: a new link, at most one per EMAIL_VERIFICATION_RESEND_AFTER."""
    user = request.user
    next_url = _safe_next(request, request.POST.get("next", ""))
    if email_verified(user):
        return redirect(next_url or "workspace:home")
    sent = verification_link_send(
        user=user, next_url=next_url, language=emails.request_language(request)
    )
    record = verification_state(user)
    wait = 0
    if not sent and record and record.link_sent_at:
        left = record.link_sent_at + settings.EMAIL_VERIFICATION_RESEND_AFTER - timezone.now()
        wait = max(1, -(-int(left.total_seconds()) // 60))
    return render(request, "accounts/link_sent.html", {
        "sent": sent, "email": user.email, "wait_minutes": wait, "next": next_url,
    }, status=200 if sent else 429)  # fmt: skip
