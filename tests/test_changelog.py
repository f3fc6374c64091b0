"""Followers see what changed: the change log on a milestone's page, in the API and as Atom."""

import datetime as dt

import feedparser
import pytest
import time_machine

from tests.factories import MilestoneFactory, RegulationFactory, UserFactory, bulk_catalogue
from tracker.catalogue.models import Milestone, MilestoneChange

pytestmark = pytest.mark.django_db

OMNIBUS = "Regulation (EU) 2026/1744"
OMNIBUS_URL = "https://example.org/omnibus"
CHANGE_FIELDS = {
    "id", "milestone", "milestone_title", "regulation", "kind", "origin", "recorded_at",
    "changes", "old_date", "new_date", "old_status", "new_status", "amending_act", "source_url",
}  # fmt: skip


def _at(day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, 0, tzinfo=dt.UTC)


def _record(milestone: Milestone, at: dt.datetime, **fields) -> MilestoneChange:
    with time_machine.travel(at, tick=False):
        return MilestoneChange.objects.create(milestone=milestone, **fields)


@pytest.fixture
def catalogue(loaded_small_pack):
    # The pack load may record changes of its own; each test here writes the log it reads.
    MilestoneChange.objects.all().delete()


@pytest.fixture
def editor_name():
    return "hidden-hand"


@pytest.fixture
def high_risk_log(catalogue, editor_name):
    """The high-risk milestone's log: added, moved by the omnibus, adopted, then retitled."""
    milestone = Milestone.objects.get(key="test-high-risk")
    editor = UserFactory(username=editor_name)
    return {
        "created": _record(
            milestone, _at(1), kind="created", origin="pack", new_date=dt.date(2026, 8, 2)
        ),
        "moved": _record(
            milestone,
            _at(2),
            kind="moved",
            origin="amendment",
            changes={"date": ["2026-08-02", "2027-12-02"]},
            old_date=dt.date(2026, 8, 2),
            new_date=dt.date(2027, 12, 2),
            amending_act=OMNIBUS,
            source_url=OMNIBUS_URL,
            recorded_by=editor,
        ),
        "status": _record(
            milestone,
            _at(3),
            kind="status",
            origin="admin",
            changes={"status": ["proposed", "adopted"]},
            old_status="proposed",
            new_status="adopted",
            recorded_by=editor,
        ),
        "details": _record(
            milestone,
            _at(4),
            kind="details",
            origin="admin",
            changes={
                "legal_basis": ["Art. 113", "Art. 113, second paragraph"],
                "title": ["High-risk rules apply", "High-risk obligations apply"],
                "roles": [["provider"], ["deployer", "provider"]],
            },
            reason="Aligned with the consolidated text",
            recorded_by=editor,
        ),
    }


def _change_log(html: str) -> str:
    start = html.index('<h2 id="changes-heading">')
    return html[start : html.index("</section>", start)]


# The milestone page ---------------------------------------------------------------------------


def test_the_milestone_page_lists_its_changes_newest_first_in_plain_words(client, high_risk_log):
    html = client.get("/milestones/test-high-risk/").content.decode()

    log = _change_log(html)
    lines = [
        "Details changed: title, legal basis, who it concerns",
        "Status: proposed → adopted",
        f"Date moved from 2 August 2026 to 2 December 2027 by {OMNIBUS}",
        "New in the catalogue",
    ]
    positions = [log.index(line) for line in lines]
    assert positions == sorted(positions)
    assert log.count('<li class="item" id="change-') == 4
    assert f'<li class="item" id="change-{high_risk_log["moved"].pk}">' in log
    assert '<time datetime="2026-11-02T11:00:00+01:00">2 November 2026</time>' in log
    assert f'<a href="{OMNIBUS_URL}" rel="noopener external">Source' in log
    assert "Aligned with the consolidated text" not in log  # the editors' own words


def test_the_change_log_never_shows_who_recorded_a_change_or_raw_keys(
    client, high_risk_log, editor_name
):
    html = client.get("/milestones/test-high-risk/").content.decode()

    log = _change_log(html)
    assert editor_name not in html
    assert f"{editor_name}@example.org" not in html
    for raw in ("legal_basis", "deployer", "provider", "amendment", "created", "2027-12-02"):
        assert raw not in log


def test_a_milestone_without_changes_says_so(client, catalogue):
    html = client.get("/milestones/test-review/").content.decode()

    assert '<p class="notice">No change recorded yet.</p>' in _change_log(html)


def test_the_pages_link_to_the_atom_feed(client, catalogue):
    timeline = client.get("/").content.decode()
    milestone = client.get("/milestones/test-high-risk/").content.decode()

    alternate = (
        '<link rel="alternate" type="application/atom+xml" '
        'title="Jalon: changes to the catalogue" href="/changes.atom">'
    )
    assert alternate in timeline
    assert alternate in milestone
    follow = (
        '<a href="/changes.atom?regulation=test-act" type="application/atom+xml">'
        "Follow changes (Atom)</a>"
    )
    assert follow in timeline
    assert follow in milestone


# The API ----------------------------------------------------------------------------------------


def test_the_api_milestone_carries_its_changes_newest_first_without_who_recorded_them(
    client, high_risk_log
):
    item = client.get("/api/v1/milestones/test-high-risk/").json()

    assert [c["kind"] for c in item["changes"]] == ["details", "status", "moved", "created"]
    moved = item["changes"][2]
    assert set(moved) == CHANGE_FIELDS
    assert moved == {
        "id": high_risk_log["moved"].pk,
        "milestone": "test-high-risk",
        "milestone_title": "High-risk obligations apply",
        "regulation": "test-act",
        "kind": "moved",
        "origin": "amendment",
        "recorded_at": "2026-11-02T11:00:00+01:00",
        "changes": {"date": ["2026-08-02", "2027-12-02"]},
        "old_date": "2026-08-02",
        "new_date": "2027-12-02",
        "old_status": "",
        "new_status": "",
        "amending_act": OMNIBUS,
        "source_url": OMNIBUS_URL,
    }
    listed = {m["key"]: m for m in client.get("/api/v1/milestones/").json()["results"]}
    assert listed["test-high-risk"]["changes"] == item["changes"]
    assert listed["test-review"]["changes"] == []


def test_the_changes_endpoint_lists_every_change_newest_first_with_its_milestone(
    client, high_risk_log
):
    review = Milestone.objects.get(key="test-review")
    latest = _record(review, _at(5), kind="details", origin="admin", changes={"notes": ["", "x"]})

    response = client.get("/api/v1/changes/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 5
    assert [(c["id"], c["milestone"]) for c in body["results"]] == [
        (latest.pk, "test-review"),
        (high_risk_log["details"].pk, "test-high-risk"),
        (high_risk_log["status"].pk, "test-high-risk"),
        (high_risk_log["moved"].pk, "test-high-risk"),
        (high_risk_log["created"].pk, "test-high-risk"),
    ]
    assert body["results"][0]["milestone_title"] == "The Commission reviews the Act"
    assert all(set(c) == CHANGE_FIELDS for c in body["results"])
    assert "recorded_by" not in response.content.decode()


@pytest.fixture
def two_regulations(high_risk_log):
    other = MilestoneFactory(key="ai-act-thing", regulation=RegulationFactory())
    return _record(other, _at(5), kind="created", origin="pack", new_date=other.date)


@pytest.mark.parametrize(
    ("query", "kinds"),
    [
        ("regulation=test-act", ["details", "status", "moved", "created"]),
        ("regulation=eu-ai-act", ["created"]),
        ("milestone=test-high-risk", ["details", "status", "moved", "created"]),
        ("milestone=test-review", []),
        ("since=2026-11-03T11:00:00%2B01:00", ["created", "details", "status"]),
        ("since=2026-11-03T10:00:01Z", ["created", "details"]),
        ("since=2026-11-04", ["created", "details"]),
        ("regulation=test-act&since=2026-11-02T00:00:00Z", ["details", "status", "moved"]),
    ],
)
def test_the_changes_endpoint_filters_by_regulation_milestone_and_since(
    client, two_regulations, query, kinds
):
    response = client.get(f"/api/v1/changes/?{query}")

    assert response.status_code == 200
    assert [c["kind"] for c in response.json()["results"]] == kinds


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        (
            "since=yesterday",
            "since",
            "Enter an ISO 8601 date and time, for example 2026-11-27T09:00:00Z.",
        ),
        (
            "since=2026-13-45T99:00",
            "since",
            "Enter an ISO 8601 date and time, for example 2026-11-27T09:00:00Z.",
        ),
        (
            "regulation=nope",
            "regulation",
            "Select a valid choice. That choice is not one of the available choices.",
        ),
        (
            "milestone=nope",
            "milestone",
            "Select a valid choice. That choice is not one of the available choices.",
        ),
    ],
)
def test_a_bad_changes_filter_gets_a_400_with_a_clear_message(
    client, catalogue, query, field, message
):
    response = client.get(f"/api/v1/changes/?{query}")

    assert response.status_code == 400
    assert response.json() == {field: [message]}


def test_the_changes_endpoint_is_read_only(client, high_risk_log):
    pk = high_risk_log["moved"].pk

    assert client.post("/api/v1/changes/", {}).status_code == 405
    assert client.delete(f"/api/v1/changes/{pk}/").status_code == 405
    assert MilestoneChange.objects.filter(pk=pk).exists()


# The Atom feed ----------------------------------------------------------------------------------


@pytest.fixture
def site_url(settings):
    settings.SITE_URL = "https://jalon.example.org"


def _feed(client, query: str = ""):
    response = client.get(f"/changes.atom{query}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def test_the_feed_lists_every_change_newest_first_as_valid_atom(
    client, high_risk_log, site_url, editor_name
):
    feed = _feed(client)

    assert feed.version == "atom10"
    assert feed.feed.title == "Jalon: changes to the catalogue"
    assert [e.title for e in feed.entries] == [
        "Test Act: High-risk obligations apply — details changed: title, legal basis, "
        "who it concerns",
        "Test Act: High-risk obligations apply — status changed to adopted",
        "Test Act: High-risk obligations apply — date moved to 2 December 2027",
        "Test Act: High-risk obligations apply — new in the catalogue",
    ]
    order = ["details", "status", "moved", "created"]
    assert [e.id for e in feed.entries] == [
        f"tag:jalon.example.org,2026:change/{high_risk_log[k].pk}" for k in order
    ]
    assert [e.link for e in feed.entries] == [
        f"http://testserver/milestones/test-high-risk/#change-{high_risk_log[k].pk}" for k in order
    ]
    assert [e.updated_parsed[:4] for e in feed.entries] == [
        (2026, 11, day, 10) for day in (4, 3, 2, 1)
    ]
    assert editor_name not in str(feed)


def test_a_feed_entry_sums_up_the_old_and_new_values_and_the_amending_act(
    client, high_risk_log, site_url
):
    entries = _feed(client).entries

    moved = entries[2].summary
    assert f"Date moved from 2 August 2026 to 2 December 2027 by {OMNIBUS}." in moved
    assert "<li>Date: <del>2 August 2026</del> → 2 December 2027</li>" in moved
    assert f'Amending act: <a href="{OMNIBUS_URL}">{OMNIBUS}</a> ({OMNIBUS_URL})' in moved
    details = entries[0].summary
    assert "<li>Who it concerns: <del>Providers</del> → Deployers, Providers</li>" in details
    assert "<li>Title: <del>High-risk rules apply</del> → High-risk obligations apply</li>" in (
        details
    )
    assert "Aligned with the consolidated text" not in details  # the editors' own words
    assert "<li>Status: <del>proposed</del> → adopted</li>" in entries[1].summary


def test_feed_entries_keep_their_ids_when_new_changes_arrive(client, high_risk_log, site_url):
    before = [(e.id, e.link) for e in _feed(client).entries]

    review = Milestone.objects.get(key="test-review")
    _record(review, _at(6), kind="details", origin="admin", changes={"notes": ["", "x"]})
    after = [(e.id, e.link) for e in _feed(client).entries]

    assert len(after) == 5
    assert after[1:] == before
    assert after[0][0] not in dict(before)


def test_the_feed_can_follow_one_regulation(client, two_regulations, site_url):
    ai_act = _feed(client, "?regulation=eu-ai-act")
    test_act = _feed(client, "?regulation=test-act")

    assert ai_act.feed.title == "Jalon: changes to the EU AI Act timeline"
    assert [e.id for e in ai_act.entries] == [
        f"tag:jalon.example.org,2026:change/{two_regulations.pk}"
    ]
    assert len(test_act.entries) == 4
    assert ai_act.feed.id != test_act.feed.id
    assert client.get("/changes.atom?regulation=nope").status_code == 404


def test_a_change_of_a_withdrawn_milestone_still_shows(client, catalogue, site_url):
    milestone = Milestone.objects.get(key="test-review")
    Milestone.objects.filter(pk=milestone.pk).update(status=Milestone.Status.WITHDRAWN)
    change = _record(
        milestone,
        _at(7),
        kind="status",
        origin="admin",
        changes={"status": ["in_force", "withdrawn"]},
        old_status="in_force",
        new_status="withdrawn",
    )

    page = client.get("/milestones/test-review/").content.decode()
    api = client.get("/api/v1/changes/?milestone=test-review").json()
    feed = _feed(client)

    assert "Status: in force → withdrawn" in _change_log(page)
    assert [c["id"] for c in api["results"]] == [change.pk]
    assert [e.title for e in feed.entries] == [
        "Test Act: The Commission reviews the Act — status changed to withdrawn"
    ]


def test_the_real_catalogue_reads_well_in_the_feed(client, ai_act_catalogue):
    MilestoneChange.objects.all().delete()
    milestone = Milestone.objects.get(key="ai-act-high-risk-annex-iii-apply")
    _record(
        milestone,
        _at(8),
        kind="moved",
        origin="amendment",
        old_date=dt.date(2026, 8, 2),
        new_date=dt.date(2027, 12, 2),
        amending_act=OMNIBUS,
        source_url="https://eur-lex.europa.eu/eli/reg/2026/1744/oj",
    )

    entries = _feed(client, "?regulation=eu-ai-act").entries

    assert [e.title for e in entries] == [
        "EU AI Act: High-risk obligations apply to Annex III systems — "
        "date moved to 2 December 2027"
    ]


# Query counts -----------------------------------------------------------------------------------


def _changes_of(size: int) -> list[Milestone]:
    """Ten milestones and `size` changes among them, alternately moved and retitled."""
    milestones = bulk_catalogue(10)
    editor = UserFactory(username="bulk-editor")
    with time_machine.travel(_at(1), tick=False):
        MilestoneChange.objects.bulk_create(
            MilestoneChange(
                milestone=milestones[n % 10],
                kind="moved" if n % 2 else "details",
                origin="admin",
                changes={"title": ["Old", "New"]} if n % 2 == 0 else {},
                old_date=milestones[n % 10].original_date if n % 2 else None,
                new_date=milestones[n % 10].date if n % 2 else None,
                amending_act=OMNIBUS if n % 2 else "",
                recorded_by=editor,
            )
            for n in range(size)
        )
    return milestones


@pytest.mark.parametrize("size", [10, 500])
def test_the_milestone_page_runs_a_fixed_number_of_queries_whatever_its_log(
    client, django_assert_num_queries, size
):
    milestone = _changes_of(0)[0]
    MilestoneChange.objects.bulk_create(
        MilestoneChange(milestone=milestone, kind="details", origin="admin") for _ in range(size)
    )

    # the catalogue stamp (a public page); milestone with its regulation, roles, scopes,
    # amendments, changes, duties
    with django_assert_num_queries(7):
        response = client.get(milestone.get_absolute_url())

    assert response.content.decode().count('<li class="item" id="change-') == size


@pytest.mark.parametrize("size", [10, 500])
def test_the_api_milestone_runs_a_fixed_number_of_queries_whatever_its_log(
    client, django_assert_num_queries, size
):
    milestone = _changes_of(0)[0]
    MilestoneChange.objects.bulk_create(
        MilestoneChange(milestone=milestone, kind="details", origin="admin") for _ in range(size)
    )

    # the catalogue stamp (a public page); milestone with its regulation, roles, scopes,
    # amendments, changes
    with django_assert_num_queries(6):
        response = client.get(f"/api/v1/milestones/{milestone.key}/")

    assert len(response.json()["changes"]) == size


@pytest.mark.parametrize("size", [10, 500])
def test_the_milestones_list_runs_a_fixed_number_of_queries_whatever_the_logs(
    client, django_assert_num_queries, size
):
    _changes_of(size)

    # the catalogue stamp (a public page); count, milestones with regulation, roles, scopes,
    # amendments, changes
    with django_assert_num_queries(7):
        response = client.get("/api/v1/milestones/")

    assert sum(len(m["changes"]) for m in response.json()["results"]) == size


@pytest.mark.parametrize("size", [10, 500])
@pytest.mark.parametrize(
    ("query", "queries"),
    [
        # the catalogue stamp (a public page, as in every case below); count, changes with
        # milestone and regulation
        ("", 3),
        # the regulation and milestone lookups, count, changes
        ("&regulation=eu-ai-act&milestone=bulk-3&since=2026-11-01T00:00:00Z", 5),
    ],
)
def test_the_changes_endpoint_runs_a_fixed_number_of_queries(
    client, django_assert_num_queries, size, query, queries
):
    _changes_of(size)

    with django_assert_num_queries(queries):
        response = client.get(f"/api/v1/changes/?page_size=1000{query}")

    assert response.status_code == 200
    assert len(response.json()["results"]) == (size if not query else size // 10)


@pytest.mark.parametrize("size", [10, 500])
@pytest.mark.parametrize(
    ("query", "queries"),
    [
        # the catalogue stamp (a public page, as in every case below); role names, scope
        # names, changes with milestone and regulation
        ("", 4),
        # the regulation, role names, scope names, changes
        ("?regulation=eu-ai-act", 5),
    ],
)
def test_the_feed_runs_a_fixed_number_of_queries_and_keeps_the_latest_hundred(
    client, django_assert_num_queries, size, query, queries
):
    _changes_of(size)

    with django_assert_num_queries(queries):
        response = client.get(f"/changes.atom{query}")

    entries = feedparser.parse(response.content).entries
    assert len(entries) == min(size, 100)
    newest = MilestoneChange.objects.first()
    assert entries[0].id.endswith(f":change/{newest.pk}")
