"""Teams: inviting by email with a role, accepting, leaving and removing."""

import re

import pytest
import time_machine
from django.urls import reverse

from tests.factories import UserFactory
from tracker.outbox.models import Message
from tracker.workspace.members import invitation_from_token
from tracker.workspace.models import Invitation, Membership
from tracker.workspace.services import organisation_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(db):
    return UserFactory(username="owner")


@pytest.fixture
def org(owner):
    return organisation_create(name="Acme AI", owner=owner)


def _invite(client, org, email="teammate@example.org", role="editor"):
    return client.post(reverse("workspace:members", kwargs={"slug": org.slug}),
                       {"email": email, "role": role})  # fmt: skip


def _link(message):
    return re.search(r"http://\S+/w/invitations/\S+/", message.body_text).group(0)


def test_an_owner_invites_by_email_and_the_invitee_joins_with_that_role(client, owner, org):
    client.force_login(owner)
    response = _invite(client, org)
    assert response.status_code == 200
    message = Message.objects.get(kind="invitation")
    assert message.to_email == "teammate@example.org"
    assert message.subject == "owner invites you to Acme AI on Jalon"

    teammate = UserFactory(username="teammate")
    client.force_login(teammate)
    path = _link(message).split("8000", 1)[1]
    assert client.get(path).status_code == 200
    joined = client.post(path)

    assert joined.url == reverse("workspace:timeline", kwargs={"slug": org.slug})
    assert Membership.objects.get(user=teammate).role == "editor"
    assert client.post(path).status_code == 404  # used once


def test_an_invitation_link_leads_a_newcomer_through_sign_up(client, owner, org):
    client.force_login(owner)
    _invite(client, org)
    path = _link(Message.objects.get(kind="invitation")).split("8000", 1)[1]
    client.logout()

    to_login = client.get(path)
    assert to_login.status_code == 302
    signup = client.post(f"{reverse('signup')}?next={path}", {
        "username": "newbie", "email": "n@example.org", "next": path,
        "password1": "a long enough passphrase", "password2": "a long enough passphrase",
    })  # fmt: skip

    assert signup.url == path


def test_only_owners_invite(client, org):
    editor = UserFactory(username="ed")
    Membership.objects.create(organisation=org, user=editor, role="editor")
    client.force_login(editor)

    assert _invite(client, org).status_code == 403
    assert Invitation.objects.count() == 0


def test_a_bad_invitation_is_explained(client, owner, org):
    client.force_login(owner)

    response = _invite(client, org, email="nope", role="king")

    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()
    assert Invitation.objects.count() == 0


@pytest.mark.parametrize(
    "token", ["garbage", "MQ:1xWsbK:INFqEtvZBUkldQY5aGv0aLRiyjI27nl4qPI2WE8fFhI"]
)
def test_a_forged_invitation_changes_nothing(client, org, token):
    client.force_login(UserFactory(username="intruder"))

    response = client.post(reverse("workspace:invitation", kwargs={"token": token}))

    assert response.status_code == 404
    assert Membership.objects.filter(organisation=org).count() == 1


def test_an_invitation_expires_after_two_weeks(client, owner, org):
    import datetime as dt

    client.force_login(owner)
    with time_machine.travel(dt.datetime(2026, 11, 1, tzinfo=dt.UTC), tick=False):
        _invite(client, org)
    token = _link(Message.objects.get(kind="invitation")).rstrip("/").rsplit("/", 1)[1]

    with time_machine.travel(dt.datetime(2026, 11, 16, tzinfo=dt.UTC), tick=False):
        assert invitation_from_token(token) is None


def test_a_member_leaves_and_an_owner_removes(client, owner, org):
    leaver = UserFactory(username="leaver")
    removed = UserFactory(username="removed")
    mine = Membership.objects.create(organisation=org, user=leaver, role="viewer")
    theirs = Membership.objects.create(organisation=org, user=removed, role="editor")

    client.force_login(leaver)
    assert (
        client.post(
            reverse("workspace:member_remove", kwargs={"slug": org.slug, "pk": theirs.pk})
        ).status_code
        == 403
    )
    client.post(reverse("workspace:member_remove", kwargs={"slug": org.slug, "pk": mine.pk}))
    client.force_login(owner)
    client.post(reverse("workspace:member_remove", kwargs={"slug": org.slug, "pk": theirs.pk}))

    assert list(org.memberships.values_list("user__username", flat=True)) == ["owner"]
