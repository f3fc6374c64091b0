"""Public pages cached per catalogue version (issue 13): validators, 304s, one shared page for
everyone, gzip, an amendment visible on the next request, a hit costing one query."""

import datetime as dt
import gzip
import shutil

import pytest
import time_machine
from django.core.cache import caches
from django.urls import reverse

from tests.factories import MilestoneFactory, RegulationFactory, RoleFactory, UserFactory
from tests.test_admin import _change_data
from tracker.catalogue.models import Milestone, Obligation, Role
from tracker.catalogue.pack_load import catalogue_load_file, obligation_save
from tracker.catalogue.selectors import catalogue_stamp
from tracker.catalogue.services import milestone_amend
from tracker.web import caching
from tracker.web.caching import MAX_AGE

PACKS = "tests/packs"


@pytest.fixture(autouse=True)
def empty_page_cache(monkeypatch):
    caches["pages"].clear()
    monkeypatch.setattr(caching, "_last_read", None)
    yield
    caches["pages"].clear()


@pytest.fixture
def catalogue(loaded_small_pack):
    return Milestone.objects.get(key="test-high-risk")


def _public_urls(milestone: Milestone) -> dict[str, str]:
    return {
        "timeline": reverse("web:timeline"),
        "milestone page": reverse("web:milestone", args=[milestone.key]),
        "feed": reverse("web:changes_feed"),
        "API list": reverse("v1:milestone-list"),
        "API milestone": reverse("v1:milestone-detail", args=[milestone.key]),
        "API regulations": reverse("v1:regulation-list"),
        "API changes": reverse("v1:change-list"),
    }


def _amend(milestone: Milestone, new_date: dt.date) -> None:
    milestone_amend(
        milestone=milestone, new_date=new_date, amending_act="Regulation (EU) 2099/1",
        source_url="https://example.org/amending-act", confidence="high",
    )  # fmt: skip


def _vary(response) -> set[str]:
    return {v.strip().lower() for v in response.get("Vary", "").split(",") if v.strip()}


# Validators and headers ------------------------------------------------------------------


@pytest.mark.django_db
def test_every_public_page_sends_validators_and_a_short_public_cache_life(client, catalogue):
    for name, url in _public_urls(catalogue).items():
        response = client.get(url)

        assert response.status_code == 200, name
        assert response["ETag"].startswith('"') and response["ETag"].endswith('"'), name
        assert response["Last-Modified"].endswith(" GMT"), name
        assert response["Cache-Control"] == f"public, max-age={MAX_AGE}", name
        assert "accept-encoding" in _vary(response), name


@pytest.mark.django_db
def test_an_anonymous_visitor_gets_no_cookie_and_no_vary_on_cookie(client, catalogue):
    for name, url in _public_urls(catalogue).items():
        response = client.get(url)

        assert "cookie" not in _vary(response), name
        assert not response.cookies, name
        assert "Set-Cookie" not in response, name


@pytest.mark.django_db
def test_a_signed_in_visitor_gets_the_very_page_an_anonymous_one_gets(client, catalogue):
    ada = UserFactory(username="ada", email="ada@example.org", is_staff=True, verified=False)
    anonymous = {name: client.get(url) for name, url in _public_urls(catalogue).items()}
    client.force_login(ada)

    for name, url in _public_urls(catalogue).items():
        response = client.get(url)

        assert response.content == anonymous[name].content, name
        assert response["ETag"] == anonymous[name]["ETag"], name
        assert "cookie" not in _vary(response), name
    html = client.get(reverse("web:timeline")).content.decode()
    assert "ada" not in html.lower()
    assert "Sign out" not in html and "verify-banner" not in html
    assert f'href="{reverse("web:signed_in")}"' in html  # "Workspace": theirs, or sign in
    assert f'href="{reverse("web:for_companies")}"' in html


@pytest.mark.django_db
def test_a_signed_in_page_keeps_the_personal_header(client, catalogue):
    ada = UserFactory(username="ada", email="ada@example.org", is_staff=True, verified=False)
    client.force_login(ada)

    html = client.get(reverse("web:check")).content.decode()

    assert "Sign out" in html and reverse("admin:index") in html
    assert "Confirm your email address, ada@example.org." in html


# Conditional requests ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_matching_if_none_match_gets_304_with_no_body(client, catalogue):
    for name, url in _public_urls(catalogue).items():
        etag = client.get(url)["ETag"]

        response = client.get(url, headers={"if-none-match": etag})

        assert response.status_code == 304, name
        assert response.content == b"", name
        assert response["ETag"] == etag, name
        assert response["Cache-Control"] == f"public, max-age={MAX_AGE}", name


@pytest.mark.django_db
def test_if_modified_since_gets_304_until_the_catalogue_changes(client, catalogue):
    url = reverse("web:timeline")
    last_modified = client.get(url)["Last-Modified"]

    assert client.get(url, headers={"if-modified-since": last_modified}).status_code == 304
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)):
        _amend(catalogue, dt.date(2028, 3, 1))
        after = client.get(url, headers={"if-modified-since": last_modified})
    assert after.status_code == 200


@pytest.mark.django_db
def test_a_304_costs_one_query(client, catalogue, django_assert_num_queries):
    url = reverse("web:timeline")
    etag = client.get(url)["ETag"]

    with django_assert_num_queries(1):
        assert client.get(url, headers={"if-none-match": etag}).status_code == 304


@pytest.mark.django_db
def test_an_amendment_changes_the_etag_and_the_next_request_shows_it(client, catalogue):
    timeline = reverse("web:timeline")
    page = reverse("web:milestone", args=[catalogue.key])
    before = {url: client.get(url)["ETag"] for url in (timeline, page)}

    _amend(catalogue, dt.date(2028, 3, 1))

    for url in (timeline, page):
        response = client.get(url, headers={"if-none-match": before[url]})
        assert response.status_code == 200
        assert response["ETag"] != before[url]
        assert "1 March 2028" in response.content.decode()


@pytest.mark.django_db
def test_an_admin_edit_changes_the_etag_of_the_page(client, editor, catalogue):
    page = reverse("web:milestone", args=[catalogue.key])
    before = client.get(page)["ETag"]
    client.force_login(editor)

    edited = client.post(
        reverse("admin:catalogue_milestone_change", args=[catalogue.pk]),
        _change_data(catalogue, title="High-risk duties apply (corrected)"),
    )
    client.logout()
    response = client.get(page, headers={"if-none-match": before})

    assert edited.status_code == 302
    assert response.status_code == 200 and response["ETag"] != before
    assert "High-risk duties apply (corrected)" in response.content.decode()


@pytest.mark.django_db
def test_the_etag_changes_with_the_day_because_pages_count_days(client, catalogue):
    url = reverse("web:timeline")
    with time_machine.travel(dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)):
        today = client.get(url)["ETag"]
        assert client.get(url, headers={"if-none-match": today}).status_code == 304
    with time_machine.travel(dt.datetime(2026, 12, 2, 12, tzinfo=dt.UTC)):
        tomorrow = client.get(url, headers={"if-none-match": today})
    assert tomorrow.status_code == 200 and tomorrow["ETag"] != today


# The stamp: every kind of write changes it ------------------------------------------------


@pytest.mark.django_db
def test_an_amendment_changes_the_stamp(catalogue):
    before = catalogue_stamp()

    _amend(catalogue, dt.date(2028, 3, 1))

    assert catalogue_stamp().version != before.version


@pytest.mark.django_db
def test_an_admin_edit_of_a_milestones_public_text_changes_the_stamp(client, editor, catalogue):
    client.force_login(editor)
    before = catalogue_stamp()

    client.post(
        reverse("admin:catalogue_milestone_change", args=[catalogue.pk]),
        _change_data(catalogue, explainer="Providers of high-risk systems must comply."),
    )

    assert Milestone.objects.get(pk=catalogue.pk).explainer.startswith("Providers of high-risk")
    assert catalogue_stamp().version != before.version


@pytest.mark.django_db
def test_an_obligation_edit_changes_the_stamp_even_a_quiet_one(catalogue):
    catalogue_load_file(path=f"{PACKS}/obligations-small.yaml")
    duty = Obligation.objects.get(key="test-risk-management")
    before = catalogue_stamp()

    duty.title = "Run a risk management system"
    obligation_save(obligation=duty, by=None, reason="Clearer")
    after_title = catalogue_stamp()
    duty.verified_on = dt.date(2026, 11, 30)  # not announced to followers, but shown
    duty.save()

    assert before.version != after_title.version != catalogue_stamp().version


@pytest.mark.django_db
def test_a_pack_load_changes_the_stamp(catalogue, tmp_path):
    pack = tmp_path / "small.yaml"
    shutil.copy(f"{PACKS}/small.yaml", pack)
    pack.write_text(pack.read_text().replace("name: Deployers", "name: Deployers of AI"))
    before = catalogue_stamp()

    catalogue_load_file(path=pack)

    assert Role.objects.get(key="deployer").name == "Deployers of AI"
    assert catalogue_stamp().version != before.version


@pytest.mark.django_db
def test_a_role_renamed_in_the_admin_and_a_regulation_edit_change_the_stamp(
    client, admin_user, catalogue
):
    client.force_login(admin_user)
    role = Role.objects.get(key="deployer")
    before = catalogue_stamp()

    client.post(
        reverse("admin:catalogue_role_change", args=[role.pk]),
        {"key": role.key, "name": "Deployers (renamed)"},
    )
    renamed = catalogue_stamp()
    regulation = catalogue.regulation
    regulation.summary = "A new summary."
    regulation.save()

    assert Role.objects.get(pk=role.pk).name == "Deployers (renamed)"
    assert before.version != renamed.version != catalogue_stamp().version


@pytest.mark.django_db
def test_the_stamp_is_one_query_and_knows_when_the_catalogue_last_changed(
    catalogue, django_assert_num_queries
):
    with django_assert_num_queries(1):
        stamp = catalogue_stamp()

    newest = Milestone.objects.latest("updated_at").updated_at
    assert stamp.last_modified is not None and stamp.last_modified >= newest


# Gzip, negotiation, errors ----------------------------------------------------------------


@pytest.mark.django_db
def test_gzip_is_served_when_accepted_and_decompresses_to_the_plain_page(client, catalogue):
    for name, url in _public_urls(catalogue).items():
        plain = client.get(url)
        packed = client.get(url, headers={"accept-encoding": "gzip, deflate, br"})

        assert "Content-Encoding" not in plain, name
        assert packed["Content-Encoding"] == "gzip", name
        assert gzip.decompress(packed.content) == plain.content, name
        assert packed["ETag"] != plain["ETag"], name  # another representation


@pytest.mark.django_db(transaction=True)
def test_gzip_from_the_cache_decompresses_to_the_plain_page(client, loaded_small_pack):
    url = reverse("web:timeline")
    first = client.get(url)
    plain_hit = client.get(url)
    packed_hit = client.get(url, headers={"accept-encoding": "gzip"})

    assert plain_hit.content == first.content
    assert gzip.decompress(packed_hit.content) == first.content


@pytest.mark.django_db
def test_the_browsable_api_and_json_never_share_a_body(client, catalogue):
    url = reverse("v1:milestone-list")

    html = client.get(url, headers={"accept": "text/html"})
    json = client.get(url, headers={"accept": "application/json"})
    html_again = client.get(url, headers={"accept": "text/html"})

    assert html["Content-Type"].startswith("text/html")
    assert json["Content-Type"] == "application/json"
    assert json.json()["results"][0]["key"]
    assert html_again["Content-Type"].startswith("text/html")
    assert "accept" in _vary(json)
    # The browsable page carries a CSRF token: it is never shared, nor marked public.
    assert "public" not in html.get("Cache-Control", "") and "ETag" not in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/?year=0",
        "/milestones/no-such-milestone/",
        "/changes.atom?regulation=no-such-act",
        "/api/v1/milestones/no-such-milestone/",
        "/api/v1/milestones/?page=99",
    ],
)
def test_error_answers_are_not_cached(client, catalogue, url):
    first = client.get(url)
    second = client.get(url)

    assert first.status_code in (400, 404)
    assert second.status_code == first.status_code
    assert "ETag" not in first and "public" not in first.get("Cache-Control", "")
    assert len(caches["pages"]._cache) == 0


# A hit costs the stamp's query, whatever the size ------------------------------------------


def _catalogue_of(size: int) -> Milestone:
    regulation = RegulationFactory(key="eu-ai-act")
    provider = RoleFactory(key="provider")
    milestones = [MilestoneFactory(regulation=regulation, roles=[provider]) for _ in range(size)]
    for milestone in milestones[:3]:
        _amend(milestone, milestone.date + dt.timedelta(days=30))
    return milestones[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("size", [10, 60])
def test_a_cached_public_page_costs_one_query_at_any_size(client, size, django_assert_num_queries):
    milestone = _catalogue_of(size)
    for name, url in _public_urls(milestone).items():
        first = client.get(url)
        assert first.status_code == 200, name

        with django_assert_num_queries(1):
            hit = client.get(url)

        assert hit.content == first.content, name
        assert hit["ETag"] == first["ETag"], name


@pytest.mark.django_db(transaction=True)
def test_an_amendment_is_on_the_next_request_even_with_the_page_cached(client):
    milestone = _catalogue_of(10)
    url = reverse("web:milestone", args=[milestone.key])
    client.get(url)
    assert len(caches["pages"]._cache) == 1

    _amend(Milestone.objects.get(pk=milestone.pk), dt.date(2031, 5, 6))

    assert "6 May 2031" in client.get(url).content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_process_may_reuse_its_stamp_for_the_seconds_the_setting_allows(
    client, settings, django_assert_num_queries
):
    settings.PUBLIC_PAGE_STAMP_SECONDS = 5
    milestone = _catalogue_of(10)
    url = reverse("web:milestone", args=[milestone.key])
    with time_machine.travel(dt.datetime.now(dt.UTC), tick=False) as clock:
        client.get(url)
        with django_assert_num_queries(0):
            client.get(url)  # the stamp read a moment ago, the page kept
        _amend(Milestone.objects.get(pk=milestone.pk), dt.date(2031, 5, 6))
        within = client.get(url).content.decode()
        clock.shift(dt.timedelta(seconds=6))
        after = client.get(url).content.decode()

    assert "6 May 2031" not in within
    assert "6 May 2031" in after


# A hit answered above the rest of the middleware -----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_hit_keeps_the_security_headers_the_rendered_page_had(client, monkeypatch):
    """The page cache answers a hit before the session, CSRF, auth, messages and CSP
    middleware run: the stored page carries the headers they set when it was rendered."""
    milestone = _catalogue_of(10)
    url = reverse("web:milestone", args=[milestone.key])
    first = client.get(url)
    calls = []
    monkeypatch.setattr(
        "csp.middleware.CSPMiddleware.process_response",
        lambda self, request, response: calls.append(request) or response,
    )

    hit = client.get(url)

    assert calls == []  # the CSP middleware did not run, its header came from the cache
    for header in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"):
        assert hit[header] == first[header], header
    assert "Set-Cookie" not in hit and "cookie" not in _vary(hit)


@pytest.mark.django_db
def test_other_requests_go_down_the_whole_stack(client, catalogue):
    """A POST, a private page and an address no view answers are not the cache's business."""
    assert "ETag" not in client.post(reverse("web:timeline"))
    assert client.get("/no-such-page/").status_code == 404
    private = client.get(reverse("login"))
    assert private.status_code == 200
    assert "public" not in private.get("Cache-Control", "")


@pytest.mark.django_db(transaction=True)
def test_the_stamp_is_a_prepared_statement_on_postgresql(on_postgres):
    """Planning the stamp costs the server more than running it: on PostgreSQL it is
    prepared once per connection, and still works with prepared statements turned off
    (DATABASE_PREPARED_STATEMENTS=false, behind a pooler in transaction mode)."""
    if not on_postgres:
        pytest.skip("runs in the PostgreSQL pass (JALON_TEST_DB=postgres)")
    from django.db import connection

    first = catalogue_stamp()
    assert catalogue_stamp() == first
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] == 1

    raw = connection.connection
    threshold, raw.prepare_threshold = raw.prepare_threshold, None
    try:
        assert catalogue_stamp() == first
    finally:
        raw.prepare_threshold = threshold
