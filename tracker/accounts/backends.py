"""Signing in with the email address (any case) or, as before, the username."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


def users_for_login(identifier: str) -> list:
    """The accounts a sign-in name can mean: the one with that exact username, else those
    whose address it is (case-insensitive; older accounts may share one)."""
    User = get_user_model()
    identifier = (identifier or "").strip()
    if not identifier:
        return []
    by_username = list(User._default_manager.filter(**{User.USERNAME_FIELD: identifier}))
    if by_username or "@" not in identifier:
        return by_username
    return list(User._default_manager.filter(email__iexact=identifier).order_by("pk"))


class EmailOrUsernameBackend(ModelBackend):
    """ModelBackend that also takes the email address, and loads the verification with the
    user, so the banner in every page costs no query."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        User = get_user_model()
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        candidates = users_for_login(username)
        if not candidates:
            # Spend the time a password check takes, so a missing account does not answer
            # faster than a wrong password (as ModelBackend does).
            User().set_password(password)
            return None
        for user in candidates:
            if user.check_password(password) and self.user_can_authenticate(user):
                return user
        return None

    def get_user(self, user_id):
        User = get_user_model()
        try:
            user = User._default_manager.select_related("email_verification").get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
