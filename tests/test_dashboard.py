"""The dashboards: the organisation's figures, filters, htmx partial and CSV export, and the
staff overview across organisations; each with a query count that does not grow with the data.

The figures are checked against a hand-built organisation ("Acme AI", frozen on 10 March 2026)
whose every number is worked out in `acme` below, rather than against the real catalogue, whose
dates and rules change with the law.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests.factories import MilestoneFactory, RegulationFactory, UserFactory
from tracker.catalogue.models import Milestone
from tracker.workspace.models import AISystem, Evidence, Membership, Organisation, TrackedItem
from tracker.workspace.services import organisation_create

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 3, 10)
HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(dt.datetime(2026, 3, 10, 12, tzinfo=ZoneInfo("Europe/Brussels"))):
        yield


# Personas and data -----------------------------------------------------------------------------


@pytest.fixture
def org(officer, teammate):
    organisation = organisation_create(name="Acme AI", owner=officer)
    Membership.objects.create(organisation=organisation, user=teammate, role="editor")
    return organisation


@pytest.fixture
def staff(db):
    """Staff allowed to view organisations: what the staff overview asks for."""
    user = UserFactory(username="staff", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_organisation"))
    return user


@pytest.fixture
def plain_staff(db):
    """Staff with no permission on organisations (a catalogue editor, say)."""
    return UserFactory(username="plain-staff", is_staff=True)


def _milestone(key, category, date, **extra) -> Milestone:
    fields = {"kind": "fixed", "date": date}
    if date is None:
        fields = {"kind": "relative", "date": None, "offset_days": 15, "trigger": "incident"}
    return MilestoneFactory(key=key, title=key.replace("-", " ").capitalize(),
                            category=category, **fields, **extra)  # fmt: skip


def _reason(system=None) -> dict:
    return {"rule": "R-TEST", "article": "Art. 1", "text": f"Because of {system or 'us'}",
            "system": str(system.pk) if system else None}  # fmt: skip


@pytest.fixture
def acme(org, officer, teammate):
    """Twelve items, eleven applying, in an organisation on Jalon since 1 January 2025 (so a
    legal date after that, missed, is overdue). Worked out for 10 March 2026:

    status: 1 done, 1 not applicable, 2 in progress, 7 not started (11; 2 closed: 18%)
    overdue: literacy (2 Feb 2025), gpai (target 31 Dec 2025, legal date later)
    next five: penalties (target 30 Jun 2026), transparency, high-risk-iii, high-risk-i, review-2;
      public-authority (2030) is sixth; incident-report has no date
    by category: entry_into_force 1 done; application 1 n/a, 2 in progress, 4 not started;
      enforcement 1, incident 1, review 1 not started (review-1 no longer applies)
    by system: CV screener 1 in progress + 1 not started; Chatbot 2 not started; whole company 7
    owners (open): officer 3 (1 overdue), teammate 2 (1 overdue), nobody 4
    """
    joined = dt.datetime(2025, 1, 1, 9, tzinfo=ZoneInfo("Europe/Brussels"))
    Organisation.objects.filter(pk=org.pk).update(created_at=joined)
    org.refresh_from_db()
    cv = AISystem.objects.create(
        organisation=org,
        name="CV screener",
        risk_class="high_risk_annex_iii",
        annex_iii_point="4a",
    )
    bot = AISystem.objects.create(
        organisation=org, name="Chatbot", risk_class="other", art50=["interacts"]
    )
    d, ns, ip, app = dt.date, "not_started", "in_progress", "application"
    rows = [  # key, category, legal date, status, owner, target date, system
        ("entry-into-force", "entry_into_force", d(2024, 8, 1), "done", officer, None, None),
        ("literacy", app, d(2025, 2, 2), ns, officer, None, None),
        ("prohibitions", app, d(2025, 2, 2), "not_applicable", None, None, None),
        ("gpai", app, d(2026, 8, 2), ip, teammate, d(2025, 12, 31), None),
        ("penalties", "enforcement", d(2026, 8, 2), ns, officer, d(2026, 6, 30), None),
        ("high-risk-iii", app, d(2027, 12, 2), ip, officer, None, cv),
        ("high-risk-i", app, d(2028, 8, 2), ns, None, None, cv),
        ("incident-report", "incident", None, ns, None, None, bot),
        ("review-1", "review", d(2028, 8, 2), ns, None, None, None),  # no longer applies
        ("transparency", app, d(2026, 8, 2), ns, teammate, None, bot),
        ("review-2", "review", d(2029, 8, 2), ns, None, None, None),
        ("public-authority", app, d(2030, 12, 31), ns, None, None, None),
    ]
    items = {}
    for key, category, date, status, owner, target, system in rows:
        items[key] = TrackedItem.objects.create(
            organisation=org, milestone=_milestone(key, category, date), status=status,
            owner=owner, target_date=target, reasons=[_reason(system)],
            applies=key != "review-1",
            not_applicable_reason="We use no such practice" if status == "not_applicable" else "",
            **(STOPPED if key == "review-1" else {}),
        )  # fmt: skip
    return {"cv": cv, "bot": bot, "items": items}


STOPPED = {
    "stopped_at": dt.datetime(2026, 2, 20, 9, tzinfo=ZoneInfo("Europe/Brussels")),
    "stopped_reason": "The rules no longer select it since the system “Chatbot” was removed "
    "from the inventory.",
}


def seed(org, size: int, users, system, start=0) -> None:
    """`size` more applying items, in bulk: every status, owner and overdue case appears."""
    regulation = RegulationFactory()
    milestones = Milestone.objects.bulk_create(
        MilestoneFactory.build(regulation=regulation, key=f"seed-{start + n}",
                               category=Milestone.Category.values[n % 5],
                               date=dt.date(2024, 8, 1) + dt.timedelta(days=7 * n))
        for n in range(size)
    )  # fmt: skip
    statuses = itertools.cycle(TrackedItem.Status.values)
    owners = itertools.cycle([*users, None])
    TrackedItem.objects.bulk_create(
        TrackedItem(organisation=org, milestone=m, status=(s := next(statuses)),
                    not_applicable_reason="n/a" if s == "not_applicable" else "",
                    owner=next(owners), reasons=[_reason(system if n % 2 else None)])
        for n, m in enumerate(milestones)
    )  # fmt: skip


# Reading the page ------------------------------------------------------------------------------


class _Tables(HTMLParser):
    """The visible text of every table's body rows, by table id."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = self._row = self._cell = None
        self._svg = 0

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table = self.tables.setdefault(dict(attrs).get("id", ""), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "svg":
            self._svg += 1

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "svg":
            self._svg -= 1

    def handle_data(self, data):
        if self._cell is not None and not self._svg:
            self._cell.append(data)


def tables(html: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return {key: rows[1:] for key, rows in parser.tables.items()}  # without the header row


class _Lists(HTMLParser):
    """The link texts of the <ol> lists, by id."""

    def __init__(self):
        super().__init__()
        self.lists: dict[str, list[str]] = {}
        self._list = self._link = None

    def handle_starttag(self, tag, attrs):
        if tag == "ol":
            self._list = self.lists.setdefault(dict(attrs).get("id", ""), [])
        elif tag == "a" and self._list is not None:
            self._link = []

    def handle_endtag(self, tag):
        if tag == "a" and self._link is not None:
            self._list.append("".join(self._link).strip())
            self._link = None
        elif tag == "ol":
            self._list = None

    def handle_data(self, data):
        if self._link is not None:
            self._link.append(data)


def lists(html: str) -> dict[str, list[str]]:
    parser = _Lists()
    parser.feed(html)
    return parser.lists


COUNTS = ("done", "not-applicable", "in-progress", "to-confirm", "not-started", "overdue")


def counts(html: str) -> dict[str, str]:
    return {name: html.split(f'id="count-{name}">', 1)[1].split("<", 1)[0] for name in COUNTS}


def dashboard_url(org) -> str:
    return reverse("workspace:dashboard", kwargs={"slug": org.slug})


def export_url(org) -> str:
    return reverse("workspace:export", kwargs={"slug": org.slug})


# The organisation's dashboard ------------------------------------------------------------------


def test_the_dashboard_shows_the_exact_figures(client, officer, org, acme):
    client.force_login(officer)

    response = client.get(dashboard_url(org))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html
    assert counts(html) == {"done": "1", "not-applicable": "1", "in-progress": "2",
                            "to-confirm": "0", "not-started": "7", "overdue": "2"}  # fmt: skip
    assert "11 tracked items apply." in html
    assert lists(html)["next-deadlines"] == [
        "Penalties", "Transparency", "High risk iii", "High risk i", "Review 2",
    ]  # fmt: skip
    assert lists(html)["overdue"] == ["Literacy", "Gpai"]
    found = tables(html)
    # done, not applicable, in progress, in force to confirm, not started, total
    assert [row[:7] for row in found["by-category"]] == [
        ["Entry into force", "1", "0", "0", "0", "0", "1"],
        ["Obligations apply", "0", "1", "2", "0", "4", "7"],
        ["Review and evaluation", "0", "0", "0", "0", "1", "1"],
        ["Enforcement and penalties", "0", "0", "0", "0", "1", "1"],
        ["Incidents", "0", "0", "0", "0", "1", "1"],
    ]
    assert [row[7] for row in found["by-category"]] == [
        "100% closed", "14% closed", "0% closed", "0% closed", "0% closed",
    ]  # fmt: skip
    assert [row[:7] for row in found["by-system"]] == [
        ["Chatbot", "0", "0", "0", "0", "2", "2"],
        ["CV screener", "0", "0", "1", "0", "1", "2"],
        ["Whole company (no one system)", "1", "1", "1", "0", "4", "7"],
    ]
    assert found["owners"] == [["officer", "3", "1"], ["teammate", "2", "1"],
                               ["Nobody yet", "4", "0"]]  # fmt: skip
    assert "18% closed" in html


def test_the_timeline_chart_is_an_accessible_svg_with_one_dot_per_dated_item(
    client, officer, org, acme
):
    client.force_login(officer)

    html = client.get(dashboard_url(org)).content.decode()

    chart = html.split('<svg id="timeline-chart"', 1)[1].split("</svg>", 1)[0]
    assert 'role="img"' in chart
    assert 'aria-label="Timeline of 10 dated tracked items, coloured by status"' in chart
    assert '<title id="chart-title">' in chart
    assert (
        '<desc id="chart-desc">10 dated items from 1 August 2024 to 31 December 2030: 1 done, '
        "1 not applicable, 2 in progress, 0 in force to confirm, 6 not started; 2 overdue. "
        "Today is 10 March 2026. "
        "1 item runs from an event and has no date, so it is not drawn.</desc>"
    ) in chart
    assert chart.count('<circle class="dot') == 10
    assert chart.count('<circle class="dot status-done"') == 1
    assert chart.count(' overdue"') == 2
    assert "<title>Literacy: due 2 February 2025, not started, overdue</title>" in chart
    assert [t for t in ("2024", "2026", "2030", "2031") if f">{t}</text>" in chart] == [
        "2024", "2026", "2030", "2031",
    ]  # fmt: skip
    assert "1 item runs from an event and has no date, so it is not drawn." in html


@pytest.mark.parametrize(
    ("query", "total", "next_deadlines", "overdue"),
    [
        ({"status": "not_started"}, 7,
         ["Penalties", "Transparency", "High risk i", "Review 2", "Public authority"],
         ["Literacy"]),
        ({"category": "application"}, 7,
         ["Transparency", "High risk iii", "High risk i", "Public authority"],
         ["Literacy", "Gpai"]),
        ({"owner": "officer"}, 4, ["Penalties", "High risk iii"], ["Literacy"]),
        ({"owner": "none"}, 5, ["High risk i", "Review 2", "Public authority"], []),
        ({"system": "cv"}, 2, ["High risk iii", "High risk i"], []),
        ({"status": "not_started", "owner": "none"}, 4,
         ["High risk i", "Review 2", "Public authority"], []),
    ],
)  # fmt: skip
def test_filters_narrow_every_figure(
    client, officer, org, acme, query, total, next_deadlines, overdue
):
    params = dict(query)
    if params.get("owner") == "officer":
        params["owner"] = officer.pk
    if "system" in params:
        params["system"] = acme["cv"].pk
    client.force_login(officer)

    html = client.get(dashboard_url(org), params).content.decode()

    assert f"{total} of the tracked items match the filters." in html
    found = lists(html)
    assert found.get("next-deadlines", []) == next_deadlines
    assert found.get("overdue", []) == overdue
    assert sum(int(n) for n in counts(html).values()) - len(overdue) == total


def test_a_filter_keeps_its_choice_and_offers_a_way_back(client, officer, org, acme):
    client.force_login(officer)

    html = client.get(dashboard_url(org), {"status": "done"}).content.decode()

    assert '<option value="done" selected>Done</option>' in html
    assert f'<a href="{dashboard_url(org)}">Clear</a>' in html
    assert "owners" not in tables(html)  # a done item is nobody's open work
    assert "No open item." in html


def test_a_value_that_is_not_a_choice_is_ignored(client, officer, org, acme):
    client.force_login(officer)

    response = client.get(dashboard_url(org), {"status": "maybe", "owner": "999999"})

    assert response.status_code == 200
    assert "11 tracked items apply." in response.content.decode()


def test_an_htmx_request_gets_the_results_partial_only(client, officer, org, acme):
    client.force_login(officer)

    response = client.get(dashboard_url(org), {"status": "in_progress"}, headers=HX)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert "<form" not in html
    assert "2 of the tracked items match the filters." in html
    assert lists(html)["overdue"] == ["Gpai"]
    assert "HX-Request" in response["Vary"]


def test_an_htmx_history_restore_gets_the_whole_page(client, officer, org, acme):
    client.force_login(officer)

    response = client.get(dashboard_url(org), headers={**HX, "HX-History-Restore-Request": "true"})

    assert "<html" in response.content.decode()


def test_the_filter_form_works_with_and_without_htmx(client, officer, org, acme):
    client.force_login(officer)

    html = client.get(dashboard_url(org)).content.decode()

    label = html.index('aria-label="Filter the dashboard"')  # other forms: sign out, banners
    form = html[html.rindex("<form", 0, label) : html.index(">", label)]
    assert 'method="get"' in form
    assert f'action="{dashboard_url(org)}"' in form
    assert f'hx-get="{dashboard_url(org)}"' in form
    assert 'hx-target="#dashboard-results"' in form
    assert 'hx-push-url="true"' in form
    assert '<div id="dashboard-results"' in html
    assert '/static/web/htmx.min.js"' in html
    assert '/static/web/dashboard.css"' in html
    assert " style=" not in html  # a strict CSP without 'unsafe-inline' is coming


def test_an_organisation_with_nothing_tracked_gets_a_pointer_not_an_error(client, officer, org):
    client.force_login(officer)

    response = client.get(dashboard_url(org))

    assert response.status_code == 200
    assert "0 tracked items apply." in response.content.decode()


# Export ----------------------------------------------------------------------------------------


def _rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_export_has_one_row_per_applying_item(client, officer, org, acme):
    item = acme["items"]["gpai"]
    item.notes = 'Gap analysis, then "model card"'
    item.reasons = [_reason(acme["cv"]), _reason(acme["bot"])]
    item.save()
    for title in ("Model card", "Training data summary"):
        Evidence.objects.create(
            organisation=org, title=title, link="https://example.org/e", added_by=officer
        ).covers.add(item)
    client.force_login(officer)

    response = client.get(export_url(org))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="jalon-acme-ai-2026-03-10.csv"'
    rows = _rows(response)
    assert rows[0] == ["Milestone key", "Title", "Legal basis", "Legal date", "Target date",
                       "Status", "Owner", "Notes", "Reasons", "Applies",
                       "No longer applies since", "Why it no longer applies", "AI system",
                       "Article", "Obligation key", "Milestone", "Evidence"]  # fmt: skip
    assert len(rows) == 1 + 12  # the 11 that apply, then the one that no longer does
    by_key = {row[0]: row for row in rows[1:]}
    assert by_key["gpai"] == [
        "gpai", "Gpai", "Art. 113", "2026-08-02", "2025-12-31", "In progress", "teammate",
        'Gap analysis, then "model card"',
        "Because of CV screener; Because of Chatbot", "Yes", "", "",
        # tracked as a whole: no system, no duty; its article is the milestone's legal basis
        "", "Art. 113", "", "Gpai", "Model card; Training data summary",
    ]  # fmt: skip
    assert by_key["incident-report"][3:7] == ["", "", "Not started", ""]
    assert [row[0] for row in rows[1:4]] == ["entry-into-force", "literacy", "prohibitions"]
    assert rows[-1][0] == "review-1"
    assert rows[-1][9:12] == ["No longer", "2026-02-20", STOPPED["stopped_reason"]]


@pytest.mark.parametrize(
    ("notes", "cell"),
    [
        ('=HYPERLINK("http://evil.example")', '\'=HYPERLINK("http://evil.example")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("Plain words = fine", "Plain words = fine"),
    ],
)
def test_the_export_defuses_spreadsheet_formulas(client, officer, org, acme, notes, cell):
    TrackedItem.objects.filter(pk=acme["items"]["literacy"].pk).update(notes=notes)
    officer.username = "=evil"
    officer.save()
    client.force_login(officer)

    rows = _rows(client.get(export_url(org)))

    literacy = next(row for row in rows if row[0] == "literacy")
    assert literacy[7] == cell
    assert literacy[6] == "'=evil"


# Who may see it --------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [dashboard_url, export_url], ids=["dashboard", "export"])
def test_an_outsider_gets_404_and_a_viewer_reads(client, org, acme, outsider, viewer, url):
    client.force_login(outsider)
    assert client.get(url(org)).status_code == 404
    assert client.get(url(org), headers=HX).status_code == 404

    client.force_login(viewer)
    assert client.get(url(org)).status_code == 200


@pytest.mark.parametrize("url", [dashboard_url, export_url], ids=["dashboard", "export"])
def test_anonymous_visitors_are_sent_to_sign_in(client, org, url):
    response = client.get(url(org))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_the_dashboard_is_read_only(client, officer, org, acme):
    client.force_login(officer)

    assert client.post(dashboard_url(org)).status_code == 405
    assert client.post(export_url(org)).status_code == 405


# Staff overview --------------------------------------------------------------------------------


def test_staff_see_every_organisation_with_exact_figures(client, org, acme, outsider, staff):
    AISystem.objects.create(organisation=org, name="Retired", risk_class="other")
    client.force_login(staff)

    response = client.get(reverse("workspace:staff_dashboard"))

    assert response.status_code == 200
    assert tables(response.content.decode())["organisations"] == [
        # members, systems, items applying, done, closed %, overdue
        ["Acme AI (acme-ai)", "2", "3", "11", "1", "18%", "2"],
        ["Other Co (other-co)", "1", "0", "0", "0", "0%", "0"],
    ]


def test_staff_without_the_permission_are_refused_and_not_offered_the_link(
    client, org, acme, plain_staff, staff, officer
):
    plain_staff.user_permissions.add(Permission.objects.get(codename="view_trackeditem"))
    Membership.objects.create(organisation=org, user=plain_staff, role="viewer")
    client.force_login(plain_staff)

    response = client.get(reverse("workspace:staff_dashboard"))
    own = client.get(dashboard_url(org)).content.decode()

    assert response.status_code == 403
    assert "Acme AI" not in response.content.decode()
    assert reverse("workspace:staff_dashboard") not in own
    Membership.objects.create(organisation=org, user=staff, role="viewer")
    client.force_login(staff)
    assert reverse("workspace:staff_dashboard") in client.get(dashboard_url(org)).content.decode()


def test_non_staff_are_sent_to_the_admin_sign_in(client, officer, org):
    client.force_login(officer)

    response = client.get(reverse("workspace:staff_dashboard"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))
    client.logout()
    assert client.get(reverse("workspace:staff_dashboard")).status_code == 302


# Query counts ----------------------------------------------------------------------------------
# session, user, membership, the org menu's membership count, items, systems, members
DASHBOARD_QUERIES = 7
PARTIAL_QUERIES = 6  # the same without the org menu
EXPORT_QUERIES = 5  # session, user, membership, items, evidence titles
# session, user, the admin menu's 2 permission reads, the count and the page of organisations,
# 3 grouped counts for that page
STAFF_QUERIES = 9


@pytest.mark.parametrize("size", [5, 500])
def test_the_dashboard_runs_a_fixed_number_of_queries(
    client, officer, teammate, org, size, django_assert_num_queries
):
    system = AISystem.objects.create(organisation=org, name="CV screener", risk_class="other")
    seed(org, size, [officer, teammate], system)
    client.force_login(officer)
    url = dashboard_url(org)

    with django_assert_num_queries(DASHBOARD_QUERIES):
        response = client.get(url)
    assert f"{size} tracked items apply." in response.content.decode()

    with django_assert_num_queries(PARTIAL_QUERIES):
        response = client.get(url, {"owner": officer.pk, "system": system.pk}, headers=HX)
    assert "match the filters" in response.content.decode()

    with django_assert_num_queries(EXPORT_QUERIES):
        response = client.get(export_url(org))
    assert len(_rows(response)) == 1 + size


@pytest.mark.parametrize("size", [5, 500])
def test_the_staff_dashboard_runs_a_fixed_number_of_queries(
    client, officer, teammate, org, outsider, staff, size, django_assert_num_queries
):
    seed(org, size, [officer, teammate], None)
    for n in range(3 if size == 5 else 30):
        other = organisation_create(name=f"Company {n}", owner=officer)
        seed(other, 3, [officer], None, start=10_000 + 10 * n)
    client.force_login(staff)

    with django_assert_num_queries(STAFF_QUERIES):
        response = client.get(reverse("workspace:staff_dashboard"))
    assert response.status_code == 200


def _companies(n: int) -> None:
    Organisation.objects.bulk_create(
        Organisation(name=f"Company {i:04d}", slug=f"company-{i:04d}") for i in range(n)
    )


@pytest.mark.parametrize("size", [60, 1000])
def test_the_staff_dashboard_shows_a_page_of_organisations_in_fixed_queries(
    client, staff, size, django_assert_num_queries
):
    _companies(size)
    client.force_login(staff)
    url = reverse("workspace:staff_dashboard")
    client.get(url)

    with django_assert_num_queries(STAFF_QUERIES):
        first = client.get(url).content.decode()
    last = client.get(url, {"page": "last"}).content.decode()
    bad = client.get(url, {"page": "0"})

    assert first.count('<th scope="row">') == 50
    assert f"1–50 of {size} organisations" in first and 'rel="next"' in first
    assert f"of {size} organisations" in last and 'rel="next"' not in last
    assert f"Company {size - 1:04d}" in last and f"Company {size - 1:04d}" not in first
    assert bad.status_code == 200  # the nearest page, not a 500


def test_the_staff_dashboard_finds_an_organisation_by_name_or_slug(client, staff):
    _companies(120)
    client.force_login(staff)
    url = reverse("workspace:staff_dashboard")

    by_name = client.get(url, {"q": "company 0117"}).content.decode()
    by_slug = client.get(url, {"q": "company-011"}).content.decode()
    none = client.get(url, {"q": "nothing\x00here"}).content.decode()

    assert by_name.count('<th scope="row">') == 1 and "Company 0117" in by_name
    assert by_slug.count('<th scope="row">') == 10 and "10 results" in by_slug
    assert "No organisation matches" in none
