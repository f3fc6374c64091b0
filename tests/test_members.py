"""Teams: invitations bound to their address, roles, ownership, leaving and removing.

The concurrent "two owners remove each other" test is in test_members_race.py (PostgreSQL).
"""

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse

from tests.factories import UserFactory, acme_organisation
from tracker.accounts.services import email_verify
from tracker.outbox.models import Message
from tracker.workspace.members import INVITATIONS_PER_HOUR, invitation_from_token
from tracker.workspace.models import Invitation, Membership
from tracker.workspace.services import organisation_create

pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def owner(db):
    return UserFactory(username="owner")


@pytest.fixture
def org(owner):
    return organisation_create(name="Acme AI", owner=owner)


def _member(org, username, role, **fields):
    user = UserFactory(username=username, **fields)
    return Membership.objects.create(organisation=org, user=user, role=role)


def _url(name, org, **kwargs):
    return reverse(f"workspace:{name}", kwargs={"slug": org.slug, **kwargs})


def _invite(client, org, email="teammate@example.org", role="editor"):
    return client.post(_url("members", org), {"email": email, "role": role})


def _path(message):
    """The invitation link's path, from the email's text."""
    url = re.search(r"http://\S+/w/invitations/\S+/", message.body_text).group(0)
    return url.split("8000", 1)[1]


def _roles(org):
    return dict(org.memberships.values_list("user__username", "role"))


# Inviting and accepting -------------------------------------------------------------------


def test_an_owner_invites_by_email_and_the_invitee_joins_with_that_role(client, owner, org):
    client.force_login(owner)
    response = _invite(client, org)
    assert response.status_code == 302
    assert "Invitation sent to teammate@example.org." in client.get(response.url).content.decode()
    message = Message.objects.get(kind="invitation")
    assert message.to_email == "teammate@example.org"
    # Nothing the inviter wrote in the subject but the organisation's name
    assert message.subject == "Invitation to join Acme AI on Jalon"
    # Who, where, which role, and for which address only
    assert "owner (owner@example.org) invites you to join Acme AI on Jalon as editor" in (
        message.body_text
    )
    assert "This invitation works only for teammate@example.org" in message.body_text

    teammate = UserFactory(username="teammate", email="teammate@example.org")
    client.force_login(teammate)
    path = _path(message)
    page = client.get(path)
    assert page.status_code == 200
    assert "owner invites you to join as <strong>editor</strong>" in page.content.decode()
    joined = client.post(path)

    assert joined.url == reverse("workspace:timeline", kwargs={"slug": org.slug})
    assert Membership.objects.get(user=teammate).role == "editor"
    assert client.post(path).status_code == 404  # used once


def test_the_invited_address_is_matched_without_regard_to_case(client, owner, org):
    client.force_login(owner)
    _invite(client, org, email="Teammate@Example.ORG")
    path = _path(Message.objects.get(kind="invitation"))
    teammate = UserFactory(username="teammate", email="teammate@example.org")

    client.force_login(teammate)
    client.post(path)

    assert Membership.objects.get(user=teammate).role == "editor"


def test_an_invitation_opened_by_another_account_is_refused_and_joins_nothing(client, owner, org):
    client.force_login(owner)
    _invite(client, org, role="owner")
    path = _path(Message.objects.get(kind="invitation"))
    intruder = UserFactory(username="intruder", email="intruder@example.org")
    client.force_login(intruder)

    page = client.get(path)
    attempt = client.post(path)

    assert page.status_code == attempt.status_code == 403
    text = page.content.decode()
    assert "This invitation was sent to another address than your account" in text
    assert "t•••@example.org" in text and "teammate@example.org" not in text
    assert "Sign out, then use the invited address" in text
    assert not Membership.objects.filter(user=intruder).exists()
    assert Invitation.objects.get().accepted_at is None  # still there for the right person
    # Signing out from there leads back to the invitation, which asks to sign in
    assert client.post(reverse("logout"), {"next": path}).url == path
    assert client.get(path).url.startswith(reverse("login"))


def test_an_invitation_needs_the_invited_address_verified(client, owner, org):
    client.force_login(owner)
    _invite(client, org)
    path = _path(Message.objects.get(kind="invitation"))
    teammate = UserFactory(username="teammate", email="teammate@example.org", verified=False)
    client.force_login(teammate)

    page = client.get(path)
    attempt = client.post(path)

    assert page.status_code == attempt.status_code == 403
    assert "Verify your email address first" in page.content.decode()
    assert not Membership.objects.filter(user=teammate).exists()

    email_verify(user=teammate, email=teammate.email)
    assert client.post(path).status_code == 302
    assert Membership.objects.get(user=teammate).role == "editor"


def test_an_invitation_link_leads_a_newcomer_through_sign_up_and_verification(client, owner, org):
    client.force_login(owner)
    _invite(client, org)
    path = _path(Message.objects.get(kind="invitation"))
    client.logout()

    # Signed out: to sign in (or up) first, the invitation kept as the next page
    to_login = client.get(path)
    assert to_login.status_code == 302
    assert to_login.url.startswith(reverse("login"))
    client.post(f"{reverse('signup')}?next={path}", {
        "email": "teammate@example.org", "next": path,
        "password1": "a long enough passphrase", "password2": "a long enough passphrase",
    })  # fmt: skip
    assert not Membership.objects.filter(user__email="teammate@example.org").exists()

    # The address is proven by the link sent to it, which leads back to the invitation
    verify = Message.objects.get(kind="verify_email", to_email="teammate@example.org")
    link = re.search(r"http://\S+(/accounts/verify/\S+/)", verify.body_text).group(1)
    back = client.post(link)
    assert back.url == path
    assert client.get(path).status_code == 200
    client.post(path)

    assert Membership.objects.get(user__email="teammate@example.org").role == "editor"


def test_only_owners_invite(client, org):
    editor = _member(org, "ed", "editor").user  # verified: the role is what stops it
    client.force_login(editor)

    assert _invite(client, org).status_code == 403
    assert Invitation.objects.count() == 0


def test_an_owner_without_a_verified_address_cannot_invite(client, org):
    unverified = _member(org, "fresh", "owner", verified=False).user
    client.force_login(unverified)

    response = _invite(client, org)

    assert response.status_code == 400
    assert "Verify your email address before you invite anyone" in response.content.decode()
    assert Invitation.objects.count() == 0
    assert not Message.objects.exists()


def test_a_bad_invitation_is_explained(client, owner, org):
    client.force_login(owner)

    response = _invite(client, org, email="nope", role="king")

    assert response.status_code == 400
    text = response.content.decode()
    assert "Enter a valid email address." in text
    assert "Select a valid choice. king is not one of the available choices." in text
    assert Invitation.objects.count() == 0


def test_a_member_or_a_pending_invitee_is_not_invited_twice(client, owner, org):
    _member(org, "ed", "editor", email="ed@example.org")
    client.force_login(owner)
    _invite(client, org)

    member = _invite(client, org, email="ED@example.org")
    pending = _invite(client, org, email="teammate@example.org")

    assert member.status_code == pending.status_code == 400
    assert "ED@example.org is already a member." in member.content.decode()
    assert "teammate@example.org is already invited: resend or revoke" in (pending.content.decode())
    assert Invitation.objects.count() == Message.objects.count() == 1


@pytest.mark.parametrize(
    "token", ["garbage", "MQ:1xWsbK:INFqEtvZBUkldQY5aGv0aLRiyjI27nl4qPI2WE8fFhI"]
)
def test_a_forged_invitation_changes_nothing(client, org, token):
    client.force_login(UserFactory(username="intruder"))

    response = client.post(reverse("workspace:invitation", kwargs={"token": token}))

    assert response.status_code == 404
    assert Membership.objects.filter(organisation=org).count() == 1


def test_an_invitation_expires_after_two_weeks(client, owner, org):
    client.force_login(owner)
    with time_machine.travel(dt.datetime(2026, 11, 1, tzinfo=dt.UTC), tick=False):
        _invite(client, org)
    token = _path(Message.objects.get(kind="invitation")).rstrip("/").rsplit("/", 1)[1]

    with time_machine.travel(dt.datetime(2026, 11, 16, tzinfo=dt.UTC), tick=False):
        assert invitation_from_token(token) is None


def test_the_31st_invitation_in_an_hour_is_refused_and_nothing_is_sent(client, owner, org):
    client.force_login(owner)
    with time_machine.travel(NOON, tick=False):
        for n in range(INVITATIONS_PER_HOUR):
            assert _invite(client, org, email=f"p{n}@example.org").status_code == 302
        # Revoking does not give the quota back: the outbox remembers what was sent
        revoked = Invitation.objects.get(email="p0@example.org")
        client.post(_url("invitation_revoke", org, pk=revoked.pk), {"confirm": "yes"})

    with time_machine.travel(NOON + dt.timedelta(minutes=59), tick=False):
        refused = _invite(client, org, email="late@example.org")

    assert refused.status_code == 429
    assert (
        "This organisation has sent 30 invitations in the last hour, the most it may. Try again "
        "in 1 minute." in refused.content.decode()
    )
    assert not Invitation.objects.filter(email="late@example.org").exists()
    assert not Message.objects.filter(to_email="late@example.org").exists()
    assert Message.objects.filter(kind="invitation").count() == INVITATIONS_PER_HOUR

    with time_machine.travel(NOON + dt.timedelta(minutes=61), tick=False):
        assert _invite(client, org, email="late@example.org").status_code == 302
    assert Message.objects.filter(to_email="late@example.org").count() == 1


# Revoking and resending -------------------------------------------------------------------


def test_an_owner_revokes_a_pending_invitation_after_confirming(client, owner, org):
    client.force_login(owner)
    _invite(client, org)
    invitation = Invitation.objects.get()
    message = Message.objects.get(kind="invitation")
    path = _path(message)
    url = _url("invitation_revoke", org, pk=invitation.pk)

    page = client.get(url)
    unconfirmed = client.post(url)
    assert page.status_code == 200
    assert "Revoke the invitation to teammate@example.org" in page.content.decode()
    assert unconfirmed.status_code == 400
    assert "Nothing changed: confirm with the button below." in unconfirmed.content.decode()
    assert Invitation.objects.count() == 1

    done = client.post(url, {"confirm": "yes"})

    assert done.status_code == 302
    assert "its link no longer works" in client.get(done.url).content.decode()
    assert not Invitation.objects.exists()
    message.refresh_from_db()
    assert message.status == Message.Status.CANCELLED  # still queued: withdrawn
    assert message.last_error == "The invitation was revoked."
    client.force_login(UserFactory(username="teammate", email="teammate@example.org"))
    assert client.post(path).status_code == 404
    assert not Membership.objects.filter(user__username="teammate").exists()


def test_an_owner_resends_an_invitation_with_a_fresh_link_at_most_every_ten_minutes(
    client, owner, org
):
    client.force_login(owner)
    with time_machine.travel(NOON, tick=False):
        _invite(client, org)
    invitation = Invitation.objects.get()
    url = _url("invitation_resend", org, pk=invitation.pk)

    with time_machine.travel(NOON + dt.timedelta(minutes=7), tick=False):
        too_soon = client.post(url)
    assert too_soon.status_code == 429
    assert (
        "The invitation to teammate@example.org was sent less than 10 minutes ago. You can send "
        "it again in 3 minutes." in too_soon.content.decode()
    )
    assert Message.objects.filter(kind="invitation").count() == 1

    with time_machine.travel(NOON + dt.timedelta(minutes=10), tick=False):
        again = client.post(url)
    assert again.status_code == 302
    first, second = Message.objects.filter(kind="invitation").order_by("created_at")
    assert second.to_email == "teammate@example.org"
    assert _path(second) != _path(first)  # a fresh link

    # Thirteen days later the first link has two weeks of life left no more, the second has
    with time_machine.travel(NOON + dt.timedelta(days=14, minutes=5), tick=False):
        assert invitation_from_token(_path(first).rstrip("/").rsplit("/", 1)[1]) is None
        assert invitation_from_token(_path(second).rstrip("/").rsplit("/", 1)[1]) == invitation


def test_a_resend_past_the_addresss_daily_cap_is_reported_not_claimed(client, owner, org):
    client.force_login(owner)
    with time_machine.travel(NOON, tick=False):
        _invite(client, org)
    url = _url("invitation_resend", org, pk=Invitation.objects.get().pk)
    for n in range(1, 5):  # the outbox takes 5 invitations a day for one address
        with time_machine.travel(NOON + dt.timedelta(minutes=10 * n), tick=False):
            assert client.post(url).status_code == 302

    with time_machine.travel(NOON + dt.timedelta(minutes=50), tick=False):
        held = client.post(url, follow=True)

    assert "The invitation to teammate@example.org is open, but its email was held back" in (
        held.content.decode()
    )
    assert Message.objects.filter(status="cancelled").count() == 1
    assert Message.objects.exclude(status="cancelled").count() == 5


def test_only_owners_see_revoke_and_resend_invitations(client, owner, org):
    client.force_login(owner)
    client.get(_invite(client, org).url)  # the owner reads their "sent" notice
    invitation = Invitation.objects.get()
    editor = _member(org, "ed", "editor").user
    client.force_login(editor)

    assert "teammate@example.org" not in client.get(_url("members", org)).content.decode()
    assert client.get(_url("invitation_revoke", org, pk=invitation.pk)).status_code == 403
    revoke = client.post(_url("invitation_revoke", org, pk=invitation.pk), {"confirm": "yes"})
    assert revoke.status_code == 403
    assert client.post(_url("invitation_resend", org, pk=invitation.pk)).status_code == 403
    assert Invitation.objects.count() == Message.objects.count() == 1


def test_another_organisations_invitation_is_not_found(client, owner, org, outsider):
    client.force_login(owner)
    _invite(client, org)
    invitation = Invitation.objects.get()
    other = Membership.objects.get(user=outsider).organisation
    client.force_login(outsider)

    assert client.get(_url("invitation_revoke", other, pk=invitation.pk)).status_code == 404
    assert client.post(_url("invitation_resend", other, pk=invitation.pk)).status_code == 404
    assert Invitation.objects.count() == Message.objects.count() == 1


# Leaving and removing ---------------------------------------------------------------------


def test_a_member_leaves_and_an_owner_removes_each_after_a_confirmation(client, owner, org):
    mine = _member(org, "leaver", "viewer")
    theirs = _member(org, "removed", "editor")

    # A viewer may not remove someone else, not even reach the page
    client.force_login(mine.user)
    assert client.get(_url("member_remove", org, pk=theirs.pk)).status_code == 403
    assert (
        client.post(_url("member_remove", org, pk=theirs.pk), {"confirm": "yes"}).status_code == 403
    )

    # Leaving: a page first, then the confirmed form
    page = client.get(_url("member_remove", org, pk=mine.pk))
    assert page.status_code == 200
    assert "You lose access to Acme AI at once" in page.content.decode()
    one_click = client.post(_url("member_remove", org, pk=mine.pk))
    assert one_click.status_code == 400
    assert "Nothing changed: confirm with the button below." in one_click.content.decode()
    assert "leaver" in _roles(org)
    left = client.post(_url("member_remove", org, pk=mine.pk), {"confirm": "yes"})
    assert left.status_code == 200
    assert "You left Acme AI" in left.content.decode()

    # Removing: a page first too
    client.force_login(owner)
    page = client.get(_url("member_remove", org, pk=theirs.pk)).content.decode()
    assert "Remove removed from Acme AI" in page
    assert client.post(_url("member_remove", org, pk=theirs.pk)).status_code == 400
    assert "removed" in _roles(org)
    removed = client.post(_url("member_remove", org, pk=theirs.pk), {"confirm": "yes"})

    assert removed.status_code == 302
    assert "removed was removed from Acme AI." in client.get(removed.url).content.decode()
    assert _roles(org) == {"owner": "owner"}


def test_the_removal_page_counts_the_items_that_lose_their_owner(client, ai_act_catalogue):
    ada = UserFactory(username="ada")
    org = acme_organisation(ada)
    theirs = _member(org, "removed", "editor")
    two = list(org.items.values_list("pk", flat=True)[:2])
    assert len(two) == 2
    org.items.filter(pk__in=two).update(owner=theirs.user)
    client.force_login(ada)

    page = client.get(_url("member_remove", org, pk=theirs.pk)).content.decode()
    client.post(_url("member_remove", org, pk=theirs.pk), {"confirm": "yes"})

    assert "They own 2 tracked items here: they will have no owner" in page
    assert not org.items.filter(owner=theirs.user).exists()
    assert org.items.filter(pk__in=two, owner=None).count() == 2


def test_the_last_owner_cannot_leave_and_is_shown_the_way_out(client, owner, org):
    _member(org, "ed", "editor")
    mine = org.memberships.get(user=owner)
    client.force_login(owner)

    page = client.get(_url("member_remove", org, pk=mine.pk))
    attempt = client.post(_url("member_remove", org, pk=mine.pk), {"confirm": "yes"})

    text = page.content.decode()
    assert "You are the only owner, and an organisation needs an owner" in text
    assert _url("ownership_transfer", org) in text
    assert 'name="confirm"' not in text
    assert attempt.status_code == 400
    assert "An organisation needs an owner: make someone else owner first." in (
        attempt.content.decode()
    )
    assert _roles(org) == {"owner": "owner", "ed": "editor"}


def test_someone_elses_membership_of_another_organisation_is_not_found(
    client, owner, org, outsider
):
    theirs = Membership.objects.get(user=outsider)
    client.force_login(owner)

    assert client.get(_url("member_remove", org, pk=theirs.pk)).status_code == 404
    assert (
        client.post(_url("member_remove", org, pk=theirs.pk), {"confirm": "yes"}).status_code == 404
    )
    assert (
        client.post(_url("member_role", org, pk=theirs.pk), {"role": "viewer"}).status_code == 404
    )
    assert Membership.objects.get(user=outsider).role == "owner"


# Roles and ownership ----------------------------------------------------------------------


def test_an_owner_changes_a_members_role(client, owner, org):
    ed = _member(org, "ed", "editor")
    client.force_login(owner)

    response = client.post(_url("member_role", org, pk=ed.pk), {"role": "viewer"})

    assert response.status_code == 302
    assert "ed is now viewer." in client.get(response.url).content.decode()
    assert _roles(org)["ed"] == "viewer"


def test_editors_and_viewers_cannot_change_roles(client, owner, org):
    ed = _member(org, "ed", "editor")
    viewer = _member(org, "vi", "viewer")
    client.force_login(ed.user)

    assert client.get(_url("member_role", org, pk=viewer.pk)).status_code == 403
    assert client.post(_url("member_role", org, pk=ed.pk), {"role": "owner"}).status_code == 403
    assert (
        client.post(_url("member_role", org, pk=viewer.pk), {"role": "editor"}).status_code == 403
    )
    assert _roles(org) == {"owner": "owner", "ed": "editor", "vi": "viewer"}


def test_a_bad_role_is_explained(client, owner, org):
    ed = _member(org, "ed", "editor")
    client.force_login(owner)

    response = client.post(_url("member_role", org, pk=ed.pk), {"role": "king"})

    assert response.status_code == 400
    assert "Select a valid choice. king is not one of the available choices." in (
        response.content.decode()
    )
    assert _roles(org)["ed"] == "editor"


def test_the_last_owner_cannot_be_demoted(client, owner, org):
    mine = org.memberships.get(user=owner)
    client.force_login(owner)

    response = client.post(
        _url("member_role", org, pk=mine.pk), {"role": "editor", "confirm": "on"}
    )

    assert response.status_code == 400
    assert "owner is the only owner: make someone else owner first." in response.content.decode()
    assert _roles(org) == {"owner": "owner"}


def test_an_owner_steps_down_only_with_a_tick_when_another_owner_remains(client, owner, org):
    _member(org, "co", "owner")
    mine = org.memberships.get(user=owner)
    client.force_login(owner)

    page = client.get(_url("member_role", org, pk=mine.pk))
    unticked = client.post(_url("member_role", org, pk=mine.pk), {"role": "viewer"})
    assert "I understand that I will no longer be an owner" in page.content.decode()
    assert unticked.status_code == 400
    assert "Tick this box to give up your ownership." in unticked.content.decode()
    assert _roles(org)["owner"] == "owner"

    ticked = client.post(_url("member_role", org, pk=mine.pk), {"role": "viewer", "confirm": "on"})

    assert ticked.status_code == 302
    assert _roles(org) == {"owner": "viewer", "co": "owner"}


def test_an_owner_transfers_ownership_and_steps_down_in_one_step(client, owner, org):
    ed = _member(org, "ed", "editor")
    _member(org, "vi", "viewer")
    client.force_login(owner)
    url = _url("ownership_transfer", org)

    page = client.get(url).content.decode()
    assert "ed (now editor)" in page and "vi (now viewer)" in page
    response = client.post(url, {"to": ed.pk, "then": "editor"})

    assert response.status_code == 302
    assert "ed is now an owner. You are now editor." in client.get(response.url).content.decode()
    assert _roles(org) == {"owner": "editor", "ed": "owner", "vi": "viewer"}
    # No longer an owner: the page is closed to them
    assert client.get(url).status_code == 403


def test_an_owner_may_share_ownership_and_stay_an_owner(client, owner, org):
    vi = _member(org, "vi", "viewer")
    client.force_login(owner)

    client.post(_url("ownership_transfer", org), {"to": vi.pk, "then": "owner"})

    assert _roles(org) == {"owner": "owner", "vi": "owner"}


@pytest.mark.parametrize("choice", ["self", "other organisation", "garbage"])
def test_ownership_goes_only_to_another_member_of_the_organisation(
    client, owner, org, outsider, choice
):
    _member(org, "ed", "editor")
    to = {
        "self": org.memberships.get(user=owner).pk,
        "other organisation": Membership.objects.get(user=outsider).pk,
        "garbage": "x",
    }[choice]
    client.force_login(owner)

    response = client.post(_url("ownership_transfer", org), {"to": to, "then": "viewer"})

    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert _roles(org) == {"owner": "owner", "ed": "editor"}
    assert Membership.objects.get(user=outsider).role == "owner"


def test_with_nobody_to_take_over_the_transfer_page_says_so(client, owner, org):
    client.force_login(owner)

    page = client.get(_url("ownership_transfer", org))

    assert page.status_code == 200
    assert "Nobody else here could take over" in page.content.decode()


def test_an_editor_cannot_transfer_ownership(client, owner, org):
    ed = _member(org, "ed", "editor")
    client.force_login(ed.user)

    assert client.get(_url("ownership_transfer", org)).status_code == 403
    assert (
        client.post(_url("ownership_transfer", org), {"to": ed.pk, "then": "viewer"}).status_code
        == 403
    )
    assert _roles(org) == {"owner": "owner", "ed": "editor"}


def test_the_members_page_runs_a_fixed_number_of_queries(
    client, owner, org, django_assert_max_num_queries
):
    for n in range(5):
        _member(org, f"m{n}", "editor")
    client.force_login(owner)
    for n in range(5):
        _invite(client, org, email=f"p{n}@example.org")

    with django_assert_max_num_queries(7):
        response = client.get(_url("members", org))

    assert response.content.decode().count("Resend") == 5
