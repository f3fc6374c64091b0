"""A timeline a visitor can read (issue 12): it opens at today with the past folded away, a
text search, recurring items at their next occurrence, role and scope filters that include what
binds everyone, and a public "what this means" apart from the editors' note, which no public
page, feed or API response shows. Also: one event, one milestone across the packs."""

import datetime as dt
import re
from collections import defaultdict
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import MilestoneFactory, RoleFactory, ScopeFactory, bulk_catalogue
from tracker.catalogue.models import Milestone, MilestoneChange
from tracker.catalogue.pack_load import catalogue_load_file
from tracker.catalogue.packs import PackError, pack_parse
from tracker.catalogue.services import milestone_update

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.date(2026, 11, 30)
PAST_CLASS = 'class="milestone is-past'


@pytest.fixture
def frozen():
    with time_machine.travel(dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC), tick=False):
        yield


def _ids(html: str) -> list[str]:
    return re.findall(r'<li class="milestone[^"]*" id="m-([a-z0-9-]+)"', html)


def _live_dated(regulation_key: str) -> tuple[set[str], set[str]]:
    """The keys of a regulation's dated milestones, split into past and upcoming on TODAY."""
    past, upcoming = set(), set()
    for m in Milestone.objects.filter(regulation__key=regulation_key).exclude(kind="relative"):
        (upcoming if m.next_date(TODAY) else past).add(m.key)
    return past, upcoming


# Opens at today ----------------------------------------------------------------------------


def test_the_timeline_opens_at_today_with_the_past_folded_away(client, ai_act_catalogue, frozen):
    past, upcoming = _live_dated("eu-ai-act")
    assert past and upcoming  # the real catalogue has both on 30 November 2026

    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    shown = _ids(html)
    assert set(shown) == upcoming
    assert not set(shown) & past
    assert PAST_CLASS not in html
    assert "ai-act-entry-into-force" not in shown  # January 2024 to August 2025 stay folded
    # the first entry is what comes next, not the first date of the Act
    first = Milestone.objects.get(key=shown[0])
    assert first.next_date(TODAY) == min(
        Milestone.objects.get(key=k).next_date(TODAY) for k in upcoming
    )
    link = f'href="/?regulation=eu-ai-act&amp;past=1#past" id="show-past">Show {len(past)} past'
    assert link in html
    assert "Coming up, from 30 November 2026" in html


def test_the_past_is_one_link_away_and_comes_before_what_is_coming(
    client, ai_act_catalogue, frozen
):
    past, upcoming = _live_dated("eu-ai-act")

    html = client.get("/?past=1").content.decode()

    shown = _ids(html)
    assert set(shown) == past | upcoming
    assert shown.index("ai-act-entry-into-force") < shown.index("ai-act-fria")
    assert html.index('id="past-heading"') < html.index('id="dated-heading"')
    assert f'Past milestones <span class="count">({len(past)})</span>' in html
    assert 'id="m-ai-act-ai-office-decision"' in html  # January 2024
    assert "Hide past milestones" in html
    assert 'id="show-past"' not in html


def test_the_past_link_keeps_the_filters(client, ai_act_catalogue, frozen):
    html = client.get("/?role=deployer&q=fake").content.decode()

    assert 'href="/?role=deployer&amp;q=fake&amp;regulation=eu-ai-act&amp;past=1#past"' in html


# Search -------------------------------------------------------------------------------------


def test_search_finds_milestones_by_a_word_of_their_title_whatever_the_case(
    client, ai_act_catalogue, frozen
):
    html = client.get("/?q=FUNDAMENTAL").content.decode()

    assert set(_ids(html)) == {"ai-act-fria", "ai-act-fria-notification"}
    # the Member States' list of authorities (November 2024) matches too, folded away
    assert "2 upcoming milestones and 1 past one match “FUNDAMENTAL”." in html
    assert 'value="FUNDAMENTAL"' in html  # the field keeps what was typed


def test_every_word_must_be_found_in_the_title_summary_or_legal_basis(client, db, frozen):
    MilestoneFactory(
        key="deep-fakes", title="Label deep fakes", summary="Deployers disclose the content.",
        legal_basis="Art. 50(4)", date=dt.date(2027, 1, 1),
    )  # fmt: skip
    MilestoneFactory(
        key="other", title="Other duty", legal_basis="Art. 26", date=dt.date(2027, 2, 1)
    )

    assert _ids(client.get("/?q=fakes+disclose").content.decode()) == ["deep-fakes"]
    assert _ids(client.get("/?q=art.+50(4)").content.decode()) == ["deep-fakes"]
    assert _ids(client.get("/?q=fakes+art.+26").content.decode()) == []


def test_a_search_with_no_result_says_so(client, ai_act_catalogue, frozen):
    response = client.get("/?q=zeppelin")

    assert response.status_code == 200
    html = response.content.decode()
    assert _ids(html) == []
    assert "No upcoming milestone matches “zeppelin”." in html
    assert '<a href="/?regulation=eu-ai-act">clear the search</a>' in html


def test_a_search_that_only_finds_the_past_offers_to_show_it(client, ai_act_catalogue, frozen):
    html = client.get("/?q=literacy").content.decode()

    assert _ids(html) == []
    assert "No upcoming milestone matches “literacy”." in html
    assert ">Show the 1 past one</a>" in html
    assert "ai-act-ai-literacy-applies" in _ids(client.get("/?q=literacy&past=1").content.decode())


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("q=" + "a" * 101, "Search with at most 100 characters."),
        ("q=" + "+".join("abcdefghi"), "Search with at most 8 words."),
        ("q=fria%00", "Null characters are not allowed."),
    ],
)
def test_bad_searches_get_a_message_not_a_500(client, ai_act_catalogue, query, message):
    response = client.get(f"/?{query}")

    assert response.status_code == 400
    assert message in response.content.decode()


def test_the_api_searches_the_same_way(client, ai_act_catalogue):
    response = client.get("/api/v1/milestones/?q=fundamental&regulation=eu-ai-act")
    assert response.status_code == 200
    assert {m["key"] for m in response.json()["results"]} == {
        "ai-act-fria",
        "ai-act-fria-notification",
        "ai-act-fundamental-rights-authorities-listed",  # the API has no "past" fold
    }
    assert client.get("/api/v1/milestones/?q=" + "x" * 101).status_code == 400


# Recurring milestones -------------------------------------------------------------------


def test_a_recurring_milestone_is_shown_and_sorted_at_its_next_occurrence(
    client, ai_act_catalogue, frozen
):
    fines = Milestone.objects.get(key="ai-act-fines-annual-report")
    assert (fines.date, fines.every_months) == (dt.date(2025, 8, 2), 12)

    response = client.get("/")

    html = response.content.decode()
    item = html[html.index('id="m-ai-act-fines-annual-report"') :]
    item = item[: item.index("</li>")]
    assert (
        '<time datetime="2027-08-02">2 August 2027</time>'
        '<span class="recurs">, yearly since 2025</span>'
    ) in item
    assert "2 August 2025" not in item  # never the first, past date with a future countdown
    assert "in 245 days" in item
    entries = response.context["timeline"].upcoming
    whens = [e.when for e in entries]
    assert whens == sorted(whens)
    assert [e.when for e in entries if e.milestone.key == fines.key] == [dt.date(2027, 8, 2)]


def test_a_recurring_milestone_whose_last_occurrence_passed_is_past(client, db, frozen):
    MilestoneFactory(
        key="ended", title="Ended report", kind="recurring", every_months=12,
        date=dt.date(2023, 3, 1), until=dt.date(2025, 3, 1),
    )  # fmt: skip
    MilestoneFactory(
        key="later", title="Later report", kind="recurring", every_months=24,
        date=dt.date(2028, 5, 1),
    )  # fmt: skip

    assert _ids(client.get("/").content.decode()) == ["later"]
    html = client.get("/?past=1").content.decode()
    assert f'<li {PAST_CLASS}" id="m-ended">' in html
    assert (
        '<time datetime="2025-03-01">1 March 2025</time>'
        '<span class="recurs">, yearly from 2023 to 2025</span>'
    ) in html
    assert '<span class="recurs">, every two years from 2028</span>' in html


def test_the_milestone_page_of_a_recurring_duty_shows_its_next_date(
    client, ai_act_catalogue, frozen
):
    html = client.get(reverse("web:milestone", kwargs={"key": "ai-act-fines-annual-report"}))
    big_date = html.content.decode().split('class="big-date"')[1].split("</p>")[0]

    assert '<time datetime="2027-08-02">2 August 2027</time>' in big_date
    assert "yearly since 2025" in big_date
    assert "2025-08-02" not in big_date


# Roles and scopes that bind everyone ----------------------------------------------------


def test_the_providers_filter_includes_what_binds_every_operator(client, ai_act_catalogue, frozen):
    everyone = set(
        Milestone.objects.filter(roles__key="everyone", regulation__key="eu-ai-act")
        .exclude(kind="relative")
        .values_list("key", flat=True)
    )
    assert "ai-act-general-application" in everyone

    html = client.get("/?role=provider&past=1").content.decode()

    shown = set(_ids(html))
    assert everyone <= shown
    assert "ai-act-national-authorities-designated" not in shown  # Member States only
    item = html[html.index('id="m-ai-act-general-application"') :]
    assert (
        'class="tag every-operator">Applies to every operator</span>' in item[: item.index("</li>")]
    )
    assert "“Providers” includes the milestones that apply to every operator" in html


def test_a_scope_filter_includes_what_concerns_every_ai_system(client, ai_act_catalogue, frozen):
    html = client.get("/?role=provider&scope=high_risk_annex_iii&past=1").content.decode()

    shown = set(_ids(html))
    # AI literacy and penalties bind a provider of a high-risk system too
    assert {
        "ai-act-ai-literacy-applies", "ai-act-penalties-apply", "ai-act-not-high-risk-documentation"
    } <= shown  # fmt: skip
    assert "ai-act-gpai-obligations-apply" not in shown
    item = html[html.index('id="m-ai-act-ai-literacy-applies"') :]
    assert "Applies to every AI system" in item[: item.index("</li>")]


def test_the_api_role_filter_includes_what_binds_every_operator(client, db):
    everyone, provider = RoleFactory(key="everyone"), RoleFactory(key="provider")
    member_state = RoleFactory(key="member_state")
    MilestoneFactory(key="for-all", roles=[everyone])
    MilestoneFactory(key="for-providers", roles=[provider])
    MilestoneFactory(key="for-states", roles=[member_state])

    response = client.get("/api/v1/milestones/?role=provider")

    assert {m["key"] for m in response.json()["results"]} == {"for-all", "for-providers"}


# Public notes and editors' notes ---------------------------------------------------------


SECRET = "EDITORS-ONLY-7f3a (3.48 in the extract)"


@pytest.fixture
def noted(db, frozen):
    milestone = MilestoneFactory(
        key="noted", title="Noted duty", date=dt.date(2027, 3, 1),
        explainer="Providers must be ready by this date.", editor_note=SECRET,
    )  # fmt: skip
    past = MilestoneFactory(
        key="noted-past", title="Noted past", date=dt.date(2025, 3, 1), editor_note=SECRET
    )
    return milestone, past


def _public_responses(client, keys):
    urls = ["/", "/?past=1", "/?q=noted", reverse("web:changes_feed"), "/api/v1/milestones/"]
    urls += ["/api/v1/changes/"]
    for key in keys:
        urls += [reverse("web:milestone", kwargs={"key": key}), f"/api/v1/milestones/{key}/"]
    return {url: client.get(url) for url in urls}


def test_the_editors_note_is_never_public_and_the_explainer_is(client, noted, admin_user):
    milestone, past = noted
    # an editor changes the title and the editors' note in one save: a public change
    milestone_update(
        milestone=milestone, values={"title": "Noted duty (renamed)", "editor_note": SECRET + "!"},
        origin=MilestoneChange.Origin.ADMIN, by=admin_user,
    )  # fmt: skip
    change = MilestoneChange.objects.filter(milestone=milestone, kind="details").get()
    assert "editor_note" not in change.changes and "title" in change.changes

    for url, response in _public_responses(client, [milestone.key, past.key]).items():
        assert response.status_code == 200, url
        assert "EDITORS-ONLY" not in response.content.decode(), url

    timeline = client.get("/").content.decode()
    assert "<strong>What this means:</strong> Providers must be ready by this date." in timeline
    page = client.get(reverse("web:milestone", kwargs={"key": "noted"})).content.decode()
    assert '<h2 id="explainer-heading">What this means</h2>' in page
    item = client.get("/api/v1/milestones/noted/").json()
    assert item["explainer"] == "Providers must be ready by this date."
    assert "editor_note" not in item and "notes" not in item


def test_the_admin_shows_the_editors_note(admin_client, noted):
    milestone, _ = noted
    html = admin_client.get(
        reverse("admin:catalogue_milestone_change", args=[milestone.pk])
    ).content.decode()

    assert "For editors only" in html
    assert SECRET in html


def test_no_editors_note_of_the_real_packs_reaches_a_public_page(client, ai_act_catalogue):
    notes = [
        n for n in Milestone.objects.exclude(editor_note="").values_list("editor_note", flat=True)
    ]
    assert len(notes) > 50
    pages = [client.get(f"/?past=1&regulation={r}").content.decode() for r in (
        "eu-ai-act", "eu-digital-agenda")]  # fmt: skip
    pages.append(client.get("/api/v1/milestones/?page_size=200").content.decode())
    for note in notes:
        start = note[:60]
        for page in pages:
            assert start not in page
    for leak in ("(3.48 in the extract)", "no Official Journal text of 2026/1744"):
        assert all(leak not in page for page in pages)


def test_the_packs_keep_authoring_remarks_out_of_the_public_text():
    for name in ("eu-ai-act.yaml", "eu-digital-agenda.yaml"):
        pack = pack_parse(path=ROOT / "fixtures" / name)
        for spec in pack.milestones:
            public = spec.fields["explainer"]
            for remark in ("`", "extract", "Official Journal text of", "checked here", "TODO"):
                assert remark not in public, (spec.key, remark)


# The pack format ---------------------------------------------------------------------------


PACK = """
regulation: {key: t, short_name: T, title: T, source_url: "https://example.org/t"}
roles: [{key: provider, name: Providers}]
scopes: [{key: all, name: All}]
milestones:
  - key: t-one
    title: One
    kind: fixed
    date: 2027-01-01
    category: application
    status: in_force
    confidence: high
    legal_basis: Art. 1
    source_url: https://example.org/t
    roles: [provider]
    scopes: [all]
"""


def test_a_pack_reads_the_explainer_the_editors_note_and_the_former_notes_key():
    new = pack_parse(path="t.yaml", text=PACK + "    explainer: Plain.\n    editor_note: Check.\n")
    old = pack_parse(path="t.yaml", text=PACK + "    notes: Written before the split.\n")

    assert (new.milestones[0].fields["explainer"], new.milestones[0].fields["editor_note"]) == (
        "Plain.",
        "Check.",
    )
    assert old.milestones[0].fields["editor_note"] == "Written before the split."
    assert old.milestones[0].fields["explainer"] == ""


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ("    notes: a\n    editor_note: b\n", "notes is the former name of editor_note"),
        ("    explainer: " + "x" * 601 + "\n", "explainer is longer than 600 characters"),
        ("    explainer: [a, b]\n", "explainer must be text"),
    ],
)
def test_a_pack_with_a_bad_note_is_refused(extra, problem):
    with pytest.raises(PackError) as caught:
        pack_parse(path="t.yaml", text=PACK + extra)
    assert any(problem in p for p in caught.value.problems)


# Queries -------------------------------------------------------------------------------------


def _count(client, url: str, shown: int) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    assert len(_ids(response.content.decode())) == shown
    return len(queries)


def test_the_timeline_runs_a_fixed_number_of_queries(client, db, frozen):
    counts = []
    for size in (10, 60):
        Milestone.objects.all().delete()
        regulation = bulk_catalogue(size)[0].regulation.key
        counts.append(
            {
                kind: _count(client, f"/?regulation={regulation}&{query}", size)
                for kind, query in (
                    ("past", "past=1"), ("search", "q=milestone&past=1"),
                    ("role", "role=provider&past=1"),
                )
            }
        )  # fmt: skip

    assert counts[0] == counts[1]
    assert counts[0]["past"] <= 9


# One event, one milestone ---------------------------------------------------------------------


def _identity(spec) -> tuple:
    """What makes two milestones the same event: the date and the legal basis, as written."""
    basis = " ".join(spec.fields["legal_basis"].lower().split())
    return (spec.fields["date"], spec.fields["kind"], basis)


def test_no_event_is_listed_in_two_packs():
    seen: dict[tuple, list[str]] = defaultdict(list)
    for path in sorted((ROOT / "fixtures").glob("*.yaml")):
        pack = pack_parse(path=path)
        for spec in pack.milestones:
            if spec.fields["date"] is not None:
                seen[_identity(spec)].append(f"{path.name}:{spec.key}")
    shared = {
        identity: keys
        for identity, keys in seen.items()
        if len({key.split(":")[0] for key in keys}) > 1
    }
    assert shared == {}


def test_the_removed_duplicates_are_kept_in_a_catalogue_that_loaded_them(db, tmp_path):
    # given a catalogue that loaded the digital-agenda pack while it still listed an event of
    # the AI Act, and a follower of that milestone
    text = (ROOT / "fixtures" / "eu-digital-agenda.yaml").read_text(encoding="utf-8")
    duplicate = """
  - key: agenda-apply-ai-strategy
    title: Commission adopts the Apply AI Strategy
    kind: fixed
    date: 2025-10-08
    category: policy
    status: adopted
    confidence: high
    legal_basis: Commission Communication "Apply AI Strategy"
    source_url: https://digital-strategy.ec.europa.eu/en/policies/apply-ai
    roles: [commission]
    scopes: [policy]
"""

    before = tmp_path / "eu-digital-agenda.yaml"
    before.write_text(text.rstrip() + "\n" + duplicate, encoding="utf-8")
    catalogue_load_file(path=before)
    assert Milestone.objects.filter(key="agenda-apply-ai-strategy").exists()

    # when the pack as it is now is loaded
    report = catalogue_load_file(path=ROOT / "fixtures" / "eu-digital-agenda.yaml", force=True)

    # then nothing is deleted under its followers: the load says so and an editor decides
    assert Milestone.objects.filter(key="agenda-apply-ai-strategy").exists()
    assert report.not_in_pack == ["agenda-apply-ai-strategy"]


def test_a_scope_alone_is_not_widened_to_roles(client, db):
    # the "every AI system" rule widens scopes, never roles: a state's duty for all systems is
    # not a provider's
    states, provider = RoleFactory(key="member_state"), RoleFactory(key="provider")
    MilestoneFactory(key="state-all", roles=[states], scopes=[ScopeFactory(key="all")])
    MilestoneFactory(key="provider-all", roles=[provider])

    response = client.get("/api/v1/milestones/?role=provider&scope=all")

    assert {m["key"] for m in response.json()["results"]} == {"provider-all"}


def test_a_catalogue_loaded_before_the_split_takes_the_new_fields_without_conflicts(db, tmp_path):
    # given a pack loaded when the editors' note was still called `notes`
    pack = tmp_path / "t.yaml"
    pack.write_text(PACK + "    notes: Checked against the OJ.\n", encoding="utf-8")
    catalogue_load_file(path=pack)
    assert Milestone.objects.get(key="t-one").editor_note == "Checked against the OJ."

    # when the pack renames the key and adds a public explainer
    pack.write_text(
        PACK + "    explainer: Plain words.\n    editor_note: Checked against the OJ.\n",
        encoding="utf-8",
    )
    report = catalogue_load_file(path=pack)

    # then the explainer is applied, nothing conflicts and no public change is announced
    milestone = Milestone.objects.get(key="t-one")
    assert (milestone.explainer, milestone.editor_note) == (
        "Plain words.",
        "Checked against the OJ.",
    )
    assert report.conflicts == [] and report.applied == ["t-one: explainer"]
    assert not MilestoneChange.objects.filter(milestone=milestone).exclude(kind="created").exists()


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_every_note_to_the_editors_note_and_out_of_the_change_log():
    from django.db.migrations.executor import MigrationExecutor

    def migrate(target):
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(target)
        return executor.loader.project_state(target).apps

    before = [("catalogue", "0009_editors_edit_obligations")]
    old = migrate(before)
    Regulation = old.get_model("catalogue", "Regulation")
    OldMilestone = old.get_model("catalogue", "Milestone")
    regulation = Regulation.objects.create(
        key="r", short_name="R", title="R", source_url="https://e.org"
    )
    milestone = OldMilestone.objects.create(
        regulation=regulation, key="m", title="M", date=dt.date(2027, 1, 1), category="application",
        status="in_force", confidence="high", legal_basis="Art. 1", source_url="https://e.org",
        notes="no Official Journal text here",
    )  # fmt: skip
    old.get_model("catalogue", "MilestoneChange").objects.create(
        milestone=milestone, kind="details", origin="admin",
        changes={"notes": ["", "no Official Journal text here"], "title": ["L", "M"]},
    )  # fmt: skip
    old.get_model("catalogue", "PackRecord").objects.create(
        kind="milestone", key="m", pack="r.yaml", values={"notes": "no Official Journal text here"}
    )

    new = migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    moved = new.get_model("catalogue", "Milestone").objects.get(key="m")
    assert (moved.editor_note, moved.explainer) == ("no Official Journal text here", "")
    change = new.get_model("catalogue", "MilestoneChange").objects.get(milestone_id=moved.pk)
    assert change.changes == {"title": ["L", "M"]}
    record = new.get_model("catalogue", "PackRecord").objects.get(key="m")
    assert record.values == {"editor_note": "no Official Journal text here"}
