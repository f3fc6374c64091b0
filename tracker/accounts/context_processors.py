"""The banner a signed-in person with an unverified address sees on every page but the public
ones (the timeline, milestone pages: one page for everyone, cached)."""

from __future__ import annotations

from tracker.accounts.verification import email_verified, verification_state


def email_verification(request) -> dict:
    """`verification_banner`: None, or what the banner says (for whom, and whether the
    account predates verification). Free when the user was loaded with its verification."""
    if getattr(request, "public_page", False):
        # A public page is the same for everyone (tracker/web/caching.py): it reads no user.
        return {"verification_banner": None}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.email or email_verified(user):
        return {"verification_banner": None}
    record = verification_state(user)
    return {
        "verification_banner": {
            "email": user.email,
            # No record, or one for an older address: the account existed before Jalon
            # asked for proof, or the address changed.
            "new_rule": record is None or record.link_sent_at is None,
        }
    }
