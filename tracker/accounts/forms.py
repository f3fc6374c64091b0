"""Account forms: sign up with an address and a password, sign in with either name, reset a
password by email (only to a verified address, through the outbox, in Jalon's words)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tracker.accounts import emails
from tracker.accounts.verification import verification_state, verified_users
from tracker.outbox import services as outbox


class SignupForm(forms.Form):
    email = forms.EmailField(
        max_length=254, help_text="We send a link to confirm it: reminders and password "
        "resets go only to a confirmed address.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )  # fmt: skip
    password1 = forms.CharField(
        label="Password", strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )  # fmt: skip
    password2 = forms.CharField(
        label="Password confirmation", strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="The same password again.",
    )  # fmt: skip

    def clean(self):
        data = super().clean()
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        elif first and data.get("email"):
            # Checked against the address the same way whether or not it has an account.
            email = data["email"]
            probe = get_user_model()(username=email.split("@")[0], email=email)
            try:
                password_validation.validate_password(first, probe)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return data


class LoginForm(AuthenticationForm):
    """Django's sign-in form, labelled for the address (the username still works)."""

    username = forms.CharField(
        label="Email or username", max_length=254,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )  # fmt: skip
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "The email (or username) and password do not match an account. "
        "Mind the password's capitals.",
    }


class VerifiedPasswordResetForm(PasswordResetForm):
    """Sends reset links only to verified addresses, through the outbox (capped per
    recipient), with links on SITE_URL and Jalon's own words, in the account's language.
    The page answers the same whatever the address."""

    def get_users(self, email):
        User = get_user_model()
        users = User._default_manager.filter(email__iexact=email, is_active=True)
        return [u for u in verified_users(users) if u.has_usable_password()]

    def save(self, *, request=None, token_generator=default_token_generator, **_ignored):
        # SITE_URL, not the request's Host header: a forged Host cannot redirect the link.
        email = self.cleaned_data["email"]
        for user in self.get_users(email):
            record = verification_state(user)
            language = record.language if record else emails.request_language(request)
            path = reverse("password_reset_confirm", kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": token_generator.make_token(user),
            })  # fmt: skip
            subject, text = emails.render_email("password_reset", language, {
                "username": user.get_username(),
                "link": emails.absolute(path),
                "days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
            })  # fmt: skip
            outbox.send(
                to=user.email, kind="password_reset", subject=subject, text=text,
                headers=emails.headers(language),
            )  # fmt: skip
