"""The law watch: official sources are asked, findings become candidates, an editor decides.

The sources are served from tests/lawwatch/ by a real HTTP server on 127.0.0.1; nothing here
reaches beyond loopback (a guard below fails any test that tries).
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from django.urls import reverse

from tracker.catalogue.models import Milestone, Regulation
from tracker.lawwatch import sources
from tracker.lawwatch.models import LawChangeCandidate, LawWatchRun
from tracker.lawwatch.selectors import article_numbers
from tracker.lawwatch.services import law_watch_run
from tracker.lawwatch.tasks import law_watch_task

RECORDED = Path(__file__).resolve().parent / "lawwatch"
NOW = dt.datetime(2026, 12, 15, 6, 30, tzinfo=dt.UTC)
NEW_ACT = "32026R2519"
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


# A local stand-in for the EU's servers ------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.answer()

    def do_POST(self):
        self.answer()

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self.server.requests.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        )
        status, content_type, content, delay = self.server.routes.get(
            self.path.split("?")[0], (404, "text/plain", b"not here", 0)
        )
        time.sleep(delay)
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
        except OSError:
            pass  # the client gave up (the slow-response test)

    def log_message(self, *args):
        pass


class EUServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes: dict[str, tuple[int, str, bytes, float]] = {}
        self.requests: list[dict] = []

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def serve(self, path, recorded=None, *, status=200, content_type=None, content=b"", delay=0):
        if recorded:
            content = (RECORDED / recorded).read_bytes()
        if content_type is None:
            content_type = (
                "application/sparql-results+json"
                if path == "/sparql"
                else "application/rss+xml; charset=UTF-8"
            )
        self.routes[path] = (status, content_type, content, delay)

    def handle_error(self, request, client_address):
        pass


@pytest.fixture(autouse=True)
def only_loopback(monkeypatch):
    """Fail any attempt to reach a non-loopback address."""
    real_connect = socket.socket.connect

    def connect(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in LOOPBACK:
            raise AssertionError(f"a test tried to reach {host}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def eu_server():
    server = EUServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def law_watch(settings, eu_server, monkeypatch, ai_act_catalogue):
    """The law watch switched on and pointed at the local server; no feeds unless a test adds."""
    settings.LAW_WATCH_ENABLED = True
    settings.LAW_WATCH_SPARQL_URL = eu_server.url("/sparql")
    settings.LAW_WATCH_FEED_URLS = []
    settings.LAW_WATCH_TIMEOUT = 2.0
    monkeypatch.setattr(sources, "RETRY_DELAYS", (0.0, 0.0))
    return eu_server


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.INFO, logger="tracker.lawwatch")
    return caplog


def lawwatch_lines(caplog, level=logging.INFO) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("tracker.lawwatch") and r.levelno >= level
    ]


def lawwatch_warnings(caplog) -> list[str]:
    return lawwatch_lines(caplog, logging.WARNING)


@pytest.fixture
def candidate(law_watch):
    law_watch.serve("/sparql", "sparql-amending-acts.json")
    law_watch_run(now=NOW)
    return LawChangeCandidate.objects.get(external_id=NEW_ACT)


# Asking the sources -----------------------------------------------------------------------------


def _titles_naming(article: int) -> str:
    """The catalogue's own titles of the milestones citing an article, in date order."""
    milestones = Milestone.objects.filter(regulation__key="eu-ai-act").order_by("date", "key")
    titles = [m.title for m in milestones if article in article_numbers(m.legal_basis)]
    assert titles
    return "; ".join(titles)


def test_a_new_amending_act_becomes_exactly_one_candidate(law_watch):
    law_watch.serve("/sparql", "sparql-amending-acts.json")

    report = law_watch_run(now=NOW)

    assert (report.found, report.new, report.failed_sources) == (2, 1, [])
    found = LawChangeCandidate.objects.get()
    assert found.regulation == Regulation.objects.get(key="eu-ai-act")
    assert (found.source, found.kind, found.status) == ("sparql", "amends", "new")
    assert found.external_id == NEW_ACT
    assert found.title.startswith("Regulation (EU) 2026/2519 of the European Parliament")
    assert found.link == f"https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:{NEW_ACT}"
    assert found.published_on == dt.date(2026, 12, 9)
    assert found.first_seen_at == NOW
    assert found.raw["celex"]["value"] == NEW_ACT
    assert found.amending_act == "Regulation (EU) 2026/2519"
    assert found.may_affect == (
        "Amends EU AI Act (32024R1689).\n"
        f"Milestones whose legal basis names Art. 50: {_titles_naming(50)}."
    )
    run = LawWatchRun.objects.get()
    assert (run.status, run.found, run.new, run.error) == ("ok", 2, 1, "")
    assert run.sources == {"sparql": {"ok": True, "found": 2, "new": 1, "skipped": 0, "error": ""}}


def test_the_query_asks_about_the_tracked_act_and_procedure_politely(law_watch, settings):
    law_watch.serve("/sparql", "sparql-amending-acts.json")

    law_watch_run(now=NOW)

    [request] = law_watch.requests
    assert request["method"] == "POST"
    assert request["headers"]["Accept"] == "application/sparql-results+json"
    assert request["headers"]["User-Agent"] == f"Jalon law watch (+{settings.SITE_URL})"
    query = parse_qs(request["body"])["query"][0]
    assert "PREFIX cdm: <http://publications.europa.eu/ontology/cdm#>" in query
    assert 'VALUES ?target { "32024R1689"^^xsd:string }' in query
    assert 'VALUES ?target { "2025/0359/COD"^^xsd:string }' in query
    for relation in ("amends", "corrects", "repeals"):
        assert f"cdm:resource_legal_{relation}_resource_legal ?act" in query
    assert "cdm:act_consolidated_based_on_resource_legal ?act" in query
    assert "cdm:dossier_contains_work ?work" in query


def test_the_same_act_seen_on_a_second_run_stays_one_candidate(law_watch):
    law_watch.serve("/sparql", "sparql-amending-acts.json")
    law_watch_run(now=NOW)

    report = law_watch_run(now=NOW + dt.timedelta(days=1))

    assert (report.found, report.new) == (2, 0)
    assert LawChangeCandidate.objects.count() == 1
    assert LawChangeCandidate.objects.get().first_seen_at == NOW
    assert LawWatchRun.objects.count() == 2


def test_each_relation_becomes_its_kind_and_an_act_in_the_procedure_is_not_doubled(law_watch):
    law_watch.serve("/sparql", "sparql-acts-and-procedure.json")

    report = law_watch_run(now=NOW)

    assert (report.found, report.new) == (5, 4)  # the bare dossier member is not a finding
    kinds = dict(LawChangeCandidate.objects.values_list("external_id", "kind"))
    assert kinds == {
        "32024R1689R(01)": "corrects",
        "02024R1689-20260727": "consolidated",
        "32026R1744": "amends",  # also in the followed procedure: one row, the telling kind
        "52025PC0836": "procedure",
    }
    omnibus = LawChangeCandidate.objects.get(external_id="32026R1744")
    assert omnibus.may_affect.splitlines()[-1].startswith(
        "Already recorded as Regulation (EU) 2026/1744 on: "
    )
    corrigendum = LawChangeCandidate.objects.get(external_id="32024R1689R(01)")
    assert corrigendum.amending_act == "Corrigendum to Regulation (EU) 2024/1689"


@pytest.mark.parametrize(
    ("recorded", "content_type", "problem"),
    [
        ("sparql-malformed.json", "application/sparql-results+json", "malformed JSON"),
        ("sparql-rate-limited.html", "text/html", "malformed JSON"),
        (None, "application/sparql-results+json", "no results.bindings"),
    ],
    ids=["truncated-json", "html-page", "unexpected-shape"],
)
def test_a_malformed_answer_is_logged_and_changes_nothing(
    law_watch, logs, recorded, content_type, problem
):
    law_watch.serve("/sparql", recorded, content_type=content_type, content=b'{"boolean": true}')

    report = law_watch_run(now=NOW)

    assert report.failed_sources == ["sparql"]
    assert LawChangeCandidate.objects.count() == 0
    [failure] = lawwatch_warnings(logs)
    assert failure.startswith("law watch: sparql failed: ")
    assert problem in failure
    run = LawWatchRun.objects.get()
    assert (run.status, run.found, run.new) == ("failed", 0, 0)
    assert problem in run.error
    assert run.sources["sparql"]["ok"] is False


def test_a_slow_answer_is_logged_after_a_few_bounded_attempts_and_changes_nothing(
    law_watch, settings, logs
):
    settings.LAW_WATCH_TIMEOUT = 0.2
    law_watch.serve("/sparql", "sparql-amending-acts.json", delay=1.0)

    started = time.monotonic()
    report = law_watch_run(now=NOW)

    assert time.monotonic() - started < 2.5
    assert len(law_watch.requests) == 3
    assert report.failed_sources == ["sparql"]
    assert LawChangeCandidate.objects.count() == 0
    [failure] = lawwatch_warnings(logs)
    assert failure == "law watch: sparql failed: timed out after 0.2s (3 attempts)"
    assert LawWatchRun.objects.get().status == "failed"


def test_a_server_error_is_retried_and_then_recorded(law_watch):
    law_watch.serve("/sparql", status=503, content_type="text/plain", content=b"busy")

    report = law_watch_run(now=NOW)

    assert len(law_watch.requests) == 3
    assert report.failed_sources == ["sparql"]
    assert LawWatchRun.objects.get().error == "sparql: HTTP 503 (3 attempts)"
    assert LawChangeCandidate.objects.count() == 0


def test_when_switched_off_it_logs_one_line_asks_nothing_and_writes_nothing(
    law_watch, settings, logs
):
    settings.LAW_WATCH_ENABLED = False
    settings.LAW_WATCH_FEED_URLS = [law_watch.url("/feed.rss")]
    law_watch.serve("/sparql", "sparql-amending-acts.json")
    law_watch.serve("/feed.rss", "eurlex-rss.xml")

    report = law_watch_task()

    assert report["enabled"] is False
    assert lawwatch_lines(logs) == ["law watch is off (LAW_WATCH_ENABLED)"]
    assert law_watch.requests == []
    assert LawWatchRun.objects.count() == 0
    assert LawChangeCandidate.objects.count() == 0


def test_off_by_default_so_a_machine_without_network_asks_nothing(db, logs):
    report = law_watch_task()

    assert report["enabled"] is False
    assert lawwatch_lines(logs) == ["law watch is off (LAW_WATCH_ENABLED)"]
    assert LawWatchRun.objects.count() == 0


def test_a_feed_entry_naming_the_tracked_act_becomes_a_candidate_and_others_do_not(
    law_watch, settings
):
    settings.LAW_WATCH_SPARQL_URL = ""
    settings.LAW_WATCH_FEED_URLS = [law_watch.url("/feed.rss")]
    law_watch.serve("/feed.rss", "eurlex-rss.xml")

    report = law_watch_run(now=NOW)

    assert (report.found, report.new, report.failed_sources) == (2, 2, [])
    kinds = dict(LawChangeCandidate.objects.values_list("external_id", "kind"))
    assert kinds == {NEW_ACT: "amends", "32026R2493": "other"}  # not 32026R2480, 32026R2501
    template = LawChangeCandidate.objects.get(external_id="32026R2493")
    assert template.source == "feed"
    assert template.published_on == dt.date(2026, 12, 10)
    assert template.link == "https://eur-lex.europa.eu/legal-content/EN/AUTO/?uri=CELEX:32026R2493"
    assert template.raw["id"] == "CELEX:32026R2493"
    assert template.may_affect == (
        "Mentions EU AI Act (32024R1689).\n"
        f"Milestones whose legal basis names Art. 72: {_titles_naming(72)}."
    )
    [request] = law_watch.requests
    assert request["method"] == "GET"


def test_an_act_seen_in_the_feed_and_by_sparql_is_one_candidate(law_watch, settings):
    settings.LAW_WATCH_FEED_URLS = [law_watch.url("/feed.rss")]
    law_watch.serve("/sparql", "sparql-amending-acts.json")
    law_watch.serve("/feed.rss", "eurlex-rss.xml")

    report = law_watch_run(now=NOW)

    assert (report.found, report.new) == (4, 2)
    assert LawChangeCandidate.objects.filter(external_id=NEW_ACT).count() == 1
    assert LawChangeCandidate.objects.get(external_id=NEW_ACT).source == "sparql"


def test_a_failing_source_does_not_stop_the_other(law_watch, settings, logs):
    settings.LAW_WATCH_FEED_URLS = [law_watch.url("/feed.rss")]
    law_watch.serve("/sparql", "sparql-malformed.json")
    law_watch.serve("/feed.rss", "eurlex-rss.xml")

    report = law_watch_run(now=NOW)

    assert report.failed_sources == ["sparql"]
    assert LawChangeCandidate.objects.filter(source="feed").count() == 2
    assert LawChangeCandidate.objects.filter(source="sparql").count() == 0
    run = LawWatchRun.objects.get()
    assert (run.status, run.found, run.new) == ("partial", 2, 2)
    assert run.sources[f"feed {law_watch.url('/feed.rss')}"]["ok"] is True


def test_a_page_that_is_not_a_feed_fails_that_feed_alone(law_watch, settings):
    settings.LAW_WATCH_FEED_URLS = [law_watch.url("/feed.rss")]
    law_watch.serve("/sparql", "sparql-amending-acts.json")
    law_watch.serve("/feed.rss", "sparql-rate-limited.html", content_type="text/html")

    report = law_watch_run(now=NOW)

    assert report.failed_sources == [f"feed {law_watch.url('/feed.rss')}"]
    assert LawChangeCandidate.objects.filter(source="feed").count() == 0
    assert LawChangeCandidate.objects.filter(source="sparql").count() == 1


def test_one_unreadable_record_fails_alone(law_watch, logs):
    good = (RECORDED / "sparql-amending-acts.json").read_text()
    bad_date = good.replace('"value": "2026-12-09"', '"value": "9 December"', 1)
    law_watch.serve("/sparql", content=bad_date.encode())

    report = law_watch_run(now=NOW)

    assert (report.found, report.new, report.skipped_records) == (1, 1, 1)
    assert LawChangeCandidate.objects.count() == 1
    run = LawWatchRun.objects.get()
    assert run.status == "partial"
    assert run.error == "sparql: skipped binding 1: not a date: '9 December'"
    assert lawwatch_warnings(logs) == [
        "law watch: sparql skipped a record: binding 1: not a date: '9 December'"
    ]


# Editors decide -------------------------------------------------------------------------------


def test_open_as_amendment_leads_to_the_amend_form_filled_in(client, editor, candidate):
    milestone = Milestone.objects.get(key="ai-act-transparency-obligations-apply")
    client.force_login(editor)
    open_url = reverse("admin:lawwatch_lawchangecandidate_open", args=[candidate.pk])

    page = client.get(open_url)
    response = client.post(open_url, {"milestone": milestone.pk}, follow=True)

    assert page.status_code == 200
    assert f'<option value="{milestone.pk}">' in page.content.decode()
    [(location, status)] = response.redirect_chain
    assert status == 302
    assert location.startswith(reverse("admin:catalogue_milestone_amend", args=[milestone.pk]))
    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["amending_act"] == "Regulation (EU) 2026/2519"
    assert form.initial["source_url"] == candidate.link
    assert form.initial["note"] == f"Found by the law watch: {candidate.title}"
    html = response.content.decode()
    assert 'value="Regulation (EU) 2026/2519"' in html
    assert f'value="{candidate.link}"' in html
    candidate.refresh_from_db()
    assert (candidate.status, candidate.decided_by) == ("used", editor)
    assert candidate.decided_at is not None
    assert milestone.amendments.count() == 0  # nothing is recorded until the editor saves


def test_open_as_amendment_offers_only_the_regulations_dated_milestones(client, editor, candidate):
    other = Milestone.objects.exclude(regulation=candidate.regulation).first()
    relative = Milestone.objects.filter(regulation=candidate.regulation, kind="relative").first()
    client.force_login(editor)
    open_url = reverse("admin:lawwatch_lawchangecandidate_open", args=[candidate.pk])

    for milestone in (other, relative):
        response = client.post(open_url, {"milestone": milestone.pk})
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
    candidate.refresh_from_db()
    assert candidate.status == "new"


def test_dismiss_marks_the_candidate_with_who_and_when(client, editor, candidate):
    client.force_login(editor)

    response = client.post(
        reverse("admin:lawwatch_lawchangecandidate_changelist"),
        {"action": "dismiss", "_selected_action": [candidate.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "1 candidate(s) dismissed." in response.content.decode()
    candidate.refresh_from_db()
    assert (candidate.status, candidate.decided_by) == ("dismissed", editor)
    assert candidate.decided_at is not None


def test_the_candidate_page_shows_the_raw_record_and_the_link(client, editor, candidate):
    client.force_login(editor)

    response = client.get(reverse("admin:lawwatch_lawchangecandidate_change", args=[candidate.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "&quot;celex&quot;: {" in html  # pretty JSON, escaped
    assert f'<a href="{candidate.link}"' in html
    assert 'name="_save"' not in html  # read only


def test_the_candidate_and_run_lists_keep_their_query_count(
    client, editor, candidate, django_assert_max_num_queries
):
    client.force_login(editor)

    with django_assert_max_num_queries(12):
        candidates = client.get(reverse("admin:lawwatch_lawchangecandidate_changelist"))
    with django_assert_max_num_queries(10):
        runs = client.get(reverse("admin:lawwatch_lawwatchrun_changelist"))

    assert candidates.status_code == 200
    assert "Regulation (EU) 2026/2519" in candidates.content.decode()
    assert runs.status_code == 200


def test_staff_outside_the_editors_group_get_403(client, staff_outsider, candidate):
    milestone = Milestone.objects.get(key="ai-act-transparency-obligations-apply")
    client.force_login(staff_outsider)
    changelist = reverse("admin:lawwatch_lawchangecandidate_changelist")
    open_url = reverse("admin:lawwatch_lawchangecandidate_open", args=[candidate.pk])

    assert client.get(changelist).status_code == 403
    assert client.get(open_url).status_code == 403
    assert client.post(open_url, {"milestone": milestone.pk}).status_code == 403
    dismiss = client.post(changelist, {"action": "dismiss", "_selected_action": [candidate.pk]})
    assert dismiss.status_code == 403
    assert client.get(reverse("admin:lawwatch_lawwatchrun_changelist")).status_code == 403
    candidate.refresh_from_db()
    assert (candidate.status, candidate.decided_by) == ("new", None)
