"""Personal API tokens: made and revoked on /w/<slug>/tokens/, used on the workspace API.

Decisions these tests pin down: a token that does not work gets one 401 message whatever the
reason (unknown, revoked, expired, its person no longer a member: a removed member's token is
a 401, and joining again does not revive it); a token scoped to one organisation gets 404 on
another's URLs, even one its person belongs to; a read-only token gets 403 on any write.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import get_resolver, reverse
from django.utils import timezone

from tests.factories import UserFactory
from tracker.api.authentication import INVALID
from tracker.catalogue.models import Milestone
from tracker.workspace.api_tokens import (
    CREATE_LIMIT,
    DEFAULT_DAYS,
    MAX_DAYS,
    TOO_MANY,
    ApiToken,
    secret_hash,
    token_create,
)
from tracker.workspace.members import membership_end
from tracker.workspace.models import AISystem, Membership, TrackedItem
from tracker.workspace.services import organisation_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()  # the failure throttle counts in the cache, which outlives a test's data
    yield
    cache.clear()


def _populate(org):
    AISystem.objects.create(
        organisation=org, name="Screener", roles=["provider"], risk_class="high_risk_annex_iii",
        annex_iii_point="4a", placed_on_market=dt.date(2027, 1, 4),
    )  # fmt: skip
    for m in Milestone.objects.order_by("key"):
        TrackedItem.objects.create(
            organisation=org, milestone=m,
            reasons=[{"rule": "t", "article": "Art. 1", "text": "Test", "system": ""}],
        )  # fmt: skip
    return org


@pytest.fixture
def people(loaded_small_pack):
    olive, eddie, vera, otto = (UserFactory(username=n) for n in ("olive", "eddie", "vera", "otto"))
    acme = _populate(organisation_create(name="Acme", owner=olive))
    other = _populate(organisation_create(name="Other Co", owner=otto))
    Membership.objects.create(organisation=acme, user=eddie, role="editor")
    Membership.objects.create(organisation=acme, user=vera, role="viewer")
    Membership.objects.create(organisation=other, user=eddie, role="editor")  # in both
    return {"olive": olive, "eddie": eddie, "vera": vera, "otto": otto, "acme": acme,
            "other": other}  # fmt: skip


def _make(user, org, *, read_only=True, days=DEFAULT_DAYS, name="Script"):
    membership = Membership.objects.get(user=user, organisation=org)
    expires = timezone.localdate() + dt.timedelta(days=days)
    return token_create(membership=membership, name=name, expires_on=expires, read_only=read_only)


def _api(secret: str, keyword: str = "Bearer") -> Client:
    return Client(HTTP_AUTHORIZATION=f"{keyword} {secret}", enforce_csrf_checks=True)


def _items(org) -> str:
    return f"/api/v1/organisations/{org.slug}/items/"


def _item(org) -> str:
    return f"{_items(org)}{org.items.order_by('pk').first().pk}/"


# Stored hashed, used with either keyword -------------------------------------------------


def test_the_secret_is_stored_only_as_its_hash(people):
    new = _make(people["eddie"], people["acme"])

    row = ApiToken.objects.get()
    assert new.secret.startswith(f"{row.prefix}_")
    assert row.secret_hash == secret_hash(new.secret) != new.secret
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM workspace_apitoken")
        stored = " ".join(map(str, cursor.fetchall()))
    assert new.secret not in stored
    assert new.secret.split("_")[-1] not in stored  # not even its random part


@pytest.mark.parametrize("keyword", ["Bearer", "Token", "bearer"])
def test_a_token_reads_its_organisation_with_either_keyword(people, keyword):
    new = _make(people["vera"], people["acme"])

    response = _api(new.secret, keyword).get(_items(people["acme"]))

    assert response.status_code == 200
    assert response.json()["count"] == people["acme"].items.count()


@pytest.mark.parametrize("case", ["unknown", "revoked", "expired", "garbage", "removed"])
def test_a_token_that_does_not_work_gets_the_same_401(people, case):
    acme = people["acme"]
    new = _make(people["vera"], acme)
    secret = new.secret
    if case == "unknown":
        secret = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    elif case == "revoked":
        new.token.revoked_at = timezone.now()
        new.token.save()
    elif case == "expired":
        ApiToken.objects.filter(pk=new.token.pk).update(
            created_at=timezone.now() - dt.timedelta(days=3),
            expires_at=timezone.now() - dt.timedelta(seconds=1),
        )
    elif case == "garbage":
        secret = "not-a-jalon-token"
    elif case == "removed":
        owner = Membership.objects.get(user=people["olive"], organisation=acme)
        membership_end(membership=Membership.objects.get(user=people["vera"], organisation=acme),
                       by=owner)  # fmt: skip

    response = _api(secret).get(_items(acme))

    assert response.status_code == 401
    assert response.json() == {"detail": INVALID}
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_removed_member_who_joins_again_does_not_get_the_old_token_back(people):
    acme, vera = people["acme"], people["vera"]
    new = _make(vera, acme)
    Membership.objects.filter(user=vera, organisation=acme).delete()
    Membership.objects.create(user=vera, organisation=acme, role="viewer")

    assert _api(new.secret).get(_items(acme)).status_code == 401


def test_a_malformed_header_is_a_401_and_another_scheme_falls_through_to_the_session(people):
    acme = people["acme"]
    spaced = Client(HTTP_AUTHORIZATION="Bearer two words").get(_items(acme))
    basic = Client(HTTP_AUTHORIZATION="Basic b2xpdmU6eA==").get(_items(acme))

    assert spaced.status_code == 401
    assert basic.status_code == 401  # anonymous: asked to authenticate, Basic is not accepted
    assert basic.json()["detail"] != INVALID


# Scope and role ------------------------------------------------------------------------------


def _org_api_urls(org) -> dict[str, str]:
    """Every organisation route of the API, from the URLconf, filled with the org's objects."""
    values = {"slug": org.slug, "pk": None}
    item, system = org.items.order_by("pk").first(), org.systems.order_by("pk").first()
    urls = {}
    for name, pattern in _api_patterns():
        if "slug" not in pattern:
            continue
        url = re.sub(r"\(\?P<slug>[^)]*\)", values["slug"], pattern)
        pk = item.pk if "items" in url else system.pk
        url = re.sub(r"\(\?P<pk>[^)]*\)", str(pk), url)
        if "(?P<format>" in url or "(" in url:
            continue
        urls[name] = "/api/v1/" + url.lstrip("^").rstrip("$")
    return urls


def _api_patterns():
    from tracker.api import urls as api_urls

    for p in get_resolver(api_urls).url_patterns:
        yield p.name, str(p.pattern)


def test_every_organisation_route_of_the_api_is_a_404_with_a_token_for_another(people):
    """The outsider sweep with a token: Eddie is an editor in both organisations, but his
    read-and-write token for Other Co reaches nothing of Acme's, for reading or writing."""
    acme, other = people["acme"], people["other"]
    new = _make(people["eddie"], other, read_only=False)
    client = _api(new.secret)
    before = list(TrackedItem.objects.filter(organisation=acme).values_list())
    urls = _org_api_urls(acme)
    assert {"organisation-detail", "org-item-list", "org-item-detail", "org-system-list",
            "org-system-detail"} <= set(urls)  # fmt: skip

    for name, url in urls.items():
        assert client.get(url).status_code == 404, name
        for method in ("patch", "put", "post", "delete"):
            response = getattr(client, method)(url, {"status": "done"},
                                               content_type="application/json")  # fmt: skip
            assert response.status_code in (404, 405), (name, method)
            assert acme.name not in response.content.decode(), (name, method)
    listing = client.get("/api/v1/organisations/").json()
    assert [o["slug"] for o in listing["results"]] == [other.slug]  # only its own
    assert list(TrackedItem.objects.filter(organisation=acme).values_list()) == before
    # and the same token does work on its own organisation
    assert client.get(_items(other)).status_code == 200
    assert client.get(f"/api/v1/organisations/{other.slug}/").status_code == 200


def test_a_read_only_token_of_an_editor_is_refused_a_patch(people):
    acme = people["acme"]
    new = _make(people["eddie"], acme, read_only=True)
    item = acme.items.order_by("pk").first()

    response = _api(new.secret).patch(_item(acme), {"status": "done"},
                                      content_type="application/json")  # fmt: skip

    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]
    item.refresh_from_db()
    assert item.status != "done"


def test_an_editor_read_write_token_patches_an_item_without_csrf(people):
    acme = people["acme"]
    new = _make(people["eddie"], acme, read_only=False)

    response = _api(new.secret).patch(_item(acme), {"status": "in_progress", "owner": "eddie"},
                                      content_type="application/json")  # fmt: skip

    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["owner"]) == ("in_progress", "eddie")
    item = acme.items.order_by("pk").first()
    assert item.status == "in_progress"


def test_a_token_has_its_persons_role_now_not_when_it_was_made(people):
    acme, eddie = people["acme"], people["eddie"]
    new = _make(eddie, acme, read_only=False)
    Membership.objects.filter(user=eddie, organisation=acme).update(role="viewer")

    response = _api(new.secret).patch(_item(acme), {"status": "done"},
                                      content_type="application/json")  # fmt: skip

    assert response.status_code == 403


def test_the_public_catalogue_ignores_tokens(people):
    assert _api("jalon_nonsense_token").get("/api/v1/milestones/").status_code == 200
    assert _api("jalon_nonsense_token").get("/api/v1/regulations/").status_code == 200


def test_session_calls_keep_working_and_still_need_csrf(people):
    acme = people["acme"]
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["eddie"])

    read = client.get(_items(acme))
    write = client.patch(_item(acme), {"status": "done"}, content_type="application/json")

    assert read.status_code == 200
    assert write.status_code == 403
    assert "CSRF" in write.json()["detail"]


# Last used, once a minute -------------------------------------------------------------------


def test_last_used_is_written_at_most_once_a_minute(people, django_assert_num_queries):
    acme = people["acme"]
    new = _make(people["vera"], acme)
    client = _api(new.secret)
    url = f"/api/v1/organisations/{acme.slug}/systems/"

    def updates(queries):
        return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("UPDATE")]

    with CaptureQueriesContext(connection) as first:
        assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as second:
        assert client.get(url).status_code == 200
    used = ApiToken.objects.get().last_used_at
    ApiToken.objects.update(last_used_at=timezone.now() - dt.timedelta(seconds=61))
    with CaptureQueriesContext(connection) as later:
        assert client.get(url).status_code == 200

    assert len(updates(first)) == 1 and "last_used_at" in updates(first)[0]
    assert updates(second) == []
    assert len(updates(later)) == 1
    assert used is not None and ApiToken.objects.get().last_used_at > used
    # the token (with user and organisation), the membership, count, systems
    assert len(second) == 4, [q["sql"] for q in second]


# Brute force ---------------------------------------------------------------------------------


def test_failed_lookups_are_throttled_per_address_and_a_good_token_still_works(people, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "api_token_failures": "3/minute",
        },
    }
    acme = people["acme"]
    good = _make(people["vera"], acme)
    guesser = Client(HTTP_AUTHORIZATION="Bearer jalon_00000000_guess", REMOTE_ADDR="10.0.0.9")
    elsewhere = Client(HTTP_AUTHORIZATION="Bearer jalon_00000000_guess", REMOTE_ADDR="10.0.0.8")

    answers = [guesser.get(_items(acme)).status_code for _ in range(5)]
    limited = guesser.get(_items(acme))

    assert answers == [401, 401, 401, 429, 429]
    assert int(limited["Retry-After"]) > 0
    assert elsewhere.get(_items(acme)).status_code == 401  # per address
    same_address = Client(HTTP_AUTHORIZATION=f"Bearer {good.secret}", REMOTE_ADDR="10.0.0.9")
    assert same_address.get(_items(acme)).status_code == 200


# The pages -----------------------------------------------------------------------------------


def _tokens_url(org) -> str:
    return reverse("workspace:tokens", kwargs={"slug": org.slug})


def _form(days=30, access="read_only", name="Deadline script"):
    expires = timezone.localdate() + dt.timedelta(days=days)
    return {"name": name, "expires_on": expires.isoformat(), "access": access}


def test_a_member_makes_a_token_sees_it_once_and_then_only_its_prefix(client, people):
    acme = people["acme"]
    client.force_login(people["eddie"])

    made = client.post(_tokens_url(acme), _form(access="read_write"))
    again = client.get(_tokens_url(acme))

    assert made.status_code == 201
    assert "no-store" in made["Cache-Control"]
    token = ApiToken.objects.get()
    secret = re.search(r'id="token-secret">([^<]+)<', made.content.decode()).group(1)
    assert secret_hash(secret) == token.secret_hash
    assert (token.user, token.organisation, token.read_only) == (people["eddie"], acme, False)
    assert token.last_day == timezone.localdate() + dt.timedelta(days=30)
    html = again.content.decode()
    assert secret not in html
    assert token.prefix in html and "Deadline script" in html and "Read and write" in html
    assert "Never" in html  # not used yet
    assert _api(secret).get(_items(acme)).status_code == 200


def test_the_nav_links_to_the_tokens_page(client, people):
    client.force_login(people["vera"])

    html = client.get(reverse("workspace:timeline", kwargs={"slug": people["acme"].slug}))

    assert f'href="{_tokens_url(people["acme"])}"' in html.content.decode()


def test_a_viewer_may_make_only_read_only_tokens(client, people):
    acme = people["acme"]
    client.force_login(people["vera"])

    page = client.get(_tokens_url(acme)).content.decode()
    refused = client.post(_tokens_url(acme), _form(access="read_write"))
    allowed = client.post(_tokens_url(acme), _form(access="read_only"))

    assert re.search(r'<input type="radio" name="access" value="read_write"[^>]*disabled', page)
    assert refused.status_code == 400
    assert "Viewers can only make read-only tokens." in refused.content.decode()
    assert allowed.status_code == 201
    assert list(ApiToken.objects.values_list("read_only", flat=True)) == [True]


@pytest.mark.parametrize(
    "data, field",
    [
        (_form(days=MAX_DAYS + 1), "expires_on"),
        (_form(days=0), "expires_on"),
        (_form(days=-3), "expires_on"),
        ({**_form(), "expires_on": "31/02/2027"}, "expires_on"),
        ({**_form(), "expires_on": ""}, "expires_on"),
        (_form(name="   "), "name"),
        (_form(access="admin"), "access"),
    ],
)
def test_bad_input_is_a_400_that_makes_nothing(client, people, data, field):
    client.force_login(people["eddie"])

    response = client.post(_tokens_url(people["acme"]), data)

    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not ApiToken.objects.exists()


def test_a_year_ahead_is_the_longest_expiry_and_90_days_the_default(client, people):
    client.force_login(people["eddie"])

    page = client.get(_tokens_url(people["acme"]))
    made = client.post(_tokens_url(people["acme"]), _form(days=MAX_DAYS))

    default = timezone.localdate() + dt.timedelta(days=DEFAULT_DAYS)
    assert page.context["form"]["expires_on"].value() == default
    assert made.status_code == 201


def test_making_tokens_is_rate_limited_per_person(client, people):
    client.force_login(people["eddie"])
    for n in range(CREATE_LIMIT):
        assert client.post(_tokens_url(people["other"]), _form(name=f"T{n}")).status_code == 201

    refused = client.post(_tokens_url(people["acme"]), _form(name="One too many"))

    assert refused.status_code == 429
    assert TOO_MANY in refused.content.decode()
    assert ApiToken.objects.count() == CREATE_LIMIT
    ApiToken.objects.update(created_at=timezone.now() - dt.timedelta(minutes=61))
    assert client.post(_tokens_url(people["acme"]), _form()).status_code == 201


def test_revoking_asks_first_then_the_token_gets_401(client, people):
    acme = people["acme"]
    new = _make(people["eddie"], acme)
    client.force_login(people["eddie"])
    url = reverse("workspace:token_revoke", kwargs={"slug": acme.slug, "pk": new.token.pk})

    asked = client.get(url)
    assert asked.status_code == 200 and "Revoke it" in asked.content.decode()
    assert _api(new.secret).get(_items(acme)).status_code == 200

    done = client.post(url, {"confirm": "yes"})

    assert done.status_code == 302
    assert ApiToken.objects.get().revoked_at is not None
    assert _api(new.secret).get(_items(acme)).status_code == 401
    assert "Revoked" in client.get(_tokens_url(acme)).content.decode()


def test_nobody_sees_or_revokes_someone_elses_token(client, people):
    acme = people["acme"]
    new = _make(people["eddie"], acme)
    url = reverse("workspace:token_revoke", kwargs={"slug": acme.slug, "pk": new.token.pk})

    for name in ("olive", "vera", "otto"):  # the owner, a teammate, an outsider
        client.force_login(people[name])
        assert client.get(url).status_code == 404, name
        assert client.post(url, {"confirm": "yes"}).status_code == 404, name
        if name != "otto":
            assert new.token.prefix not in client.get(_tokens_url(acme)).content.decode()
    client.force_login(people["otto"])
    assert client.get(_tokens_url(acme)).status_code == 404
    assert ApiToken.objects.get().revoked_at is None


def test_the_tokens_page_runs_a_fixed_number_of_queries(
    client, people, django_assert_max_num_queries
):
    client.force_login(people["eddie"])
    for n in range(5):
        _make(people["eddie"], people["acme"], name=f"T{n}")
    client.get(_tokens_url(people["acme"]))  # warm the session

    with django_assert_max_num_queries(6):
        response = client.get(_tokens_url(people["acme"]))
    assert response.content.decode().count('<li id="token-') == 5


# The schema ----------------------------------------------------------------------------------


def test_the_schema_documents_the_token_scheme(client, people):
    schema = client.get("/api/v1/schema/?format=json").json()

    scheme = schema["components"]["securitySchemes"]["apiToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    items = schema["paths"]["/api/v1/organisations/{slug}/items/"]["get"]
    assert {"apiToken": []} in items["security"]
    assert "401" in items["responses"]
    milestones = schema["paths"]["/api/v1/milestones/"]["get"]
    assert {"apiToken": []} not in milestones.get("security", [])
