"""Signing in lands where you work; a public page says what the workspace is (issue 12)."""

import pytest
from django.urls import reverse

from tests.factories import UserFactory
from tracker.workspace.models import Membership
from tracker.workspace.services import organisation_create

pytestmark = pytest.mark.django_db

PASSWORD = "a long enough passphrase"


def _sign_in(client, user, **extra):
    user.set_password(PASSWORD)
    user.save()
    return client.post(reverse("login"), {"username": user.username, "password": PASSWORD,
                                          **extra})  # fmt: skip


def _landing(client, user) -> str:
    response = _sign_in(client, user)
    assert response.status_code == 302
    assert response.url == reverse("web:signed_in")
    return client.get(response.url).url


def test_a_member_of_one_organisation_lands_on_its_timeline(client):
    ada = UserFactory(username="ada")
    organisation_create(name="Acme AI", owner=ada)

    assert _landing(client, ada) == reverse("workspace:timeline", args=["acme-ai"])


def test_a_member_of_several_organisations_lands_on_the_list(client):
    ada = UserFactory(username="ada")
    organisation_create(name="Acme AI", owner=ada)
    organisation_create(name="Beta Labs", owner=ada)

    assert _landing(client, ada) == reverse("workspace:home")


def test_the_catalogue_editor_with_no_organisation_lands_in_the_admin(client):
    editor = UserFactory(username="editor", is_staff=True)

    assert _landing(client, editor) == reverse("admin:index")


def test_staff_who_belong_to_an_organisation_land_on_it(client):
    lead = UserFactory(username="lead", is_staff=True)
    org = organisation_create(name="Acme AI", owner=UserFactory(username="owner"))
    Membership.objects.create(organisation=org, user=lead, role="viewer")

    assert _landing(client, lead) == reverse("workspace:timeline", args=["acme-ai"])


def test_a_newcomer_lands_on_the_page_that_creates_an_organisation_and_says_why(client):
    newcomer = UserFactory(username="new")

    url = _landing(client, newcomer)
    page = client.get(url).content.decode()

    assert url == reverse("workspace:home")
    assert "Create an organisation" in page
    assert reverse("web:for_companies") in page


def test_a_next_address_still_wins_over_the_landing(client):
    ada = UserFactory(username="ada")
    organisation_create(name="Acme AI", owner=ada)

    response = _sign_in(client, ada, next=reverse("reminders:subscribe"))

    assert response.url == reverse("reminders:subscribe")


def test_the_landing_reads_two_queries_at_most(client, django_assert_max_num_queries):
    ada = UserFactory(username="ada")
    for n in range(5):
        organisation_create(name=f"Org {n}", owner=ada)
    client.force_login(ada)

    with django_assert_max_num_queries(4):  # session, user, memberships (+ savepoint noise)
        response = client.get(reverse("web:signed_in"))

    assert response.url == reverse("workspace:home")


def test_the_landing_asks_a_visitor_to_sign_in(client):
    response = client.get(reverse("web:signed_in"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_the_public_page_explains_the_workspace_and_invites_sign_up(client):
    page = client.get(reverse("web:for_companies")).content.decode()
    home = client.get(reverse("web:timeline")).content.decode()

    assert "Your company&#x27;s AI Act plan" in page or "Your company's AI Act plan" in page
    assert reverse("signup") in page and reverse("web:check") in page
    # every public page's navigation leads there
    assert f'href="{reverse("web:for_companies")}"' in home


def test_a_signed_in_person_is_sent_on_to_their_workspace_from_the_public_page(client):
    ada = UserFactory(username="ada")
    client.force_login(ada)

    page = client.get(reverse("web:for_companies")).content.decode()

    assert "Open your workspace" in page
    assert reverse("signup") not in page
