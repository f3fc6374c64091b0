"""The law watch's sources: the Publications Office's CELLAR SPARQL endpoint and EUR-Lex feeds.

Asking and reading only; nothing here writes to the database (see services.py). A source that
cannot be asked or read raises `SourceError`; a single record that cannot be read is returned
as an error line, and the rest of the answer still counts.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import feedparser
import httpx
from django.conf import settings

SPARQL_ACCEPT = "application/sparql-results+json"
FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.1"
RETRY_DELAYS = (1.0, 3.0)  # before the 2nd and 3rd attempt; a daily job can wait, not forever
SPARQL_LIMIT = 500
ENGLISH = "http://publications.europa.eu/resource/authority/language/ENG"
EURLEX_CELEX_URL = "https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:{celex}"

CELEX = re.compile(r"^3\d{4}[RLD]\d{4}$")  # the acts the catalogue tracks (sector 3)
PROCEDURE = re.compile(r"^(?P<year>\d{4})/(?P<number>\d{4})\((?P<type>[A-Z]{3})\)$")
LINKED_CELEX = re.compile(r"CELEX(?::|%3A)(?P<celex>[0-9CE]\d{4}[A-Z]{1,2}\d{4}[A-Z0-9()-]*)", re.I)
LINKED_ELI = re.compile(
    r"/eli/(?P<type>reg|dir|dec)(?:_impl|_del)?/(?P<year>\d{4})/(?P<number>\d+)/"
)
ELI_TYPES = {"reg": "R", "dir": "L", "dec": "D"}

# CELLAR relation (found act -> tracked act) and what the candidate calls it. The consolidated
# versions of an act are found through `based_on`: `consolidates` also reaches the consolidated
# versions of every act the tracked one amended, which is noise.
RELATIONS = {
    "amends": "cdm:resource_legal_amends_resource_legal",
    "corrects": "cdm:resource_legal_corrects_resource_legal",
    "repeals": "cdm:resource_legal_repeals_resource_legal",
    "repeals-implicitly": "cdm:resource_legal_implicitly_repeals_resource_legal",
    "consolidated": "cdm:act_consolidated_based_on_resource_legal",
}
KINDS = {
    "amends": "amends",
    "corrects": "corrects",
    "repeals": "repeals",
    "repeals-implicitly": "repeals",
    "consolidated": "consolidated",
    "procedure": "procedure",
}

SPARQL_QUERY = """\
PREFIX cdm: <http://publications.europa.eu/ontology/cdm#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
SELECT DISTINCT ?target ?relation ?work ?celex ?date ?title WHERE {{
{blocks}
  OPTIONAL {{ ?work cdm:resource_legal_id_celex ?celex }}
  OPTIONAL {{ ?work cdm:work_date_document ?date }}
  OPTIONAL {{
    ?expression cdm:expression_belongs_to_work ?work ;
                cdm:expression_uses_language <{english}> ;
                cdm:expression_title ?title .
  }}
}}
ORDER BY DESC(?date) ?work
LIMIT {limit}
"""
ACTS_BLOCK = """\
    VALUES ?target {{ {celexes} }}
    ?act cdm:resource_legal_id_celex ?target .
{relations}"""
PROCEDURE_BLOCK = """\
    VALUES ?target {{ {procedures} }}
    ?dossier cdm:procedure_code_interinstitutional_reference_procedure ?target ;
             cdm:dossier_contains_work ?work .
    BIND("procedure" AS ?relation)"""


class SourceError(Exception):
    """A source could not be asked, or its answer could not be read."""


@dataclass(frozen=True)
class Target:
    """A tracked regulation as the sources see it."""

    regulation_id: int
    celex: str = ""
    procedures: tuple[str, ...] = ()

    @property
    def act_number(self) -> str:
        """ "32024R1689" -> "2024/1689", as titles and feeds write it."""
        return f"{self.celex[1:5]}/{int(self.celex[6:])}" if self.celex else ""


@dataclass(frozen=True)
class Finding:
    """One thing a source said about one tracked regulation."""

    regulation_id: int
    source: str
    kind: str
    external_id: str
    title: str
    link: str
    published_on: dt.date | None
    raw: dict[str, Any] = field(default_factory=dict)
    text: str = ""  # what the record says, for "what it may affect"


def user_agent() -> str:
    return f"Jalon law watch (+{settings.SITE_URL})"


def fetch(url: str, *, accept: str, data: dict[str, str] | None = None) -> bytes:
    """GET (or POST `data`) with the configured timeout; retry timeouts, 429/5xx, lost links."""
    timeout = settings.LAW_WATCH_TIMEOUT
    headers = {"User-Agent": user_agent(), "Accept": accept}
    problem = "not asked"
    attempts = 0
    try:
        client = httpx.Client(timeout=timeout, headers=headers, follow_redirects=True)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise SourceError(f"cannot ask {url}: {exc}") from exc
    with client:
        for delay in (0.0, *RETRY_DELAYS):
            if delay:
                time.sleep(delay)
            attempts += 1
            try:
                response = client.get(url) if data is None else client.post(url, data=data)
            except httpx.TimeoutException:
                problem = f"timed out after {timeout:g}s"
                continue
            except (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
                continue
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise SourceError(f"{type(exc).__name__}: {exc}") from exc
            if response.status_code == 429 or response.status_code >= 500:
                problem = f"HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                raise SourceError(f"HTTP {response.status_code}")
            return response.content
    raise SourceError(f"{problem} ({attempts} attempts)")


# SPARQL ---------------------------------------------------------------------------------------


def cellar_procedure(reference: str) -> str:
    """ "2025/0359(COD)" -> "2025/0359/COD", the form CELLAR stores."""
    match = PROCEDURE.match(reference.strip())
    if not match:
        raise ValueError(f"not a procedure reference: {reference!r}")
    return f"{match['year']}/{match['number']}/{match['type']}"


def sparql_query(targets: Iterable[Target]) -> str | None:
    """One query for every tracked act and procedure, or None when nothing is tracked.

    Only well-formed CELEX numbers and procedure references reach the query: they come from
    editable rows, and a quote in one must not change the query.
    """
    celexes = sorted({t.celex for t in targets if CELEX.match(t.celex)})
    procedures = sorted(
        {cellar_procedure(p) for t in targets for p in t.procedures if PROCEDURE.match(p.strip())}
    )
    blocks = []
    if celexes:
        relations = "\n    UNION\n".join(
            f'    {{ ?work {prop} ?act . BIND("{name}" AS ?relation) }}'
            for name, prop in RELATIONS.items()
        )
        blocks.append(
            ACTS_BLOCK.format(
                celexes=" ".join(f'"{c}"^^xsd:string' for c in celexes), relations=relations
            )
        )
    if procedures:
        blocks.append(
            PROCEDURE_BLOCK.format(procedures=" ".join(f'"{p}"^^xsd:string' for p in procedures))
        )
    if not blocks:
        return None
    body = "  {\n" + "\n  }\n  UNION\n  {\n".join(blocks) + "\n  }"
    return SPARQL_QUERY.format(blocks=body, english=ENGLISH, limit=SPARQL_LIMIT)


def sparql_ask(url: str, targets: list[Target]) -> tuple[list[Finding], list[str]]:
    query = sparql_query(targets)
    if query is None:
        return [], []
    body = fetch(url, accept=SPARQL_ACCEPT, data={"query": query})
    return sparql_parse(body, targets)


def sparql_parse(body: bytes, targets: list[Target]) -> tuple[list[Finding], list[str]]:
    """SPARQL 1.1 JSON results -> findings, and an error line per binding that cannot be read."""
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise SourceError(f"malformed JSON: {exc}") from exc
    results = document.get("results") if isinstance(document, dict) else None
    bindings = results.get("bindings") if isinstance(results, dict) else None
    if not isinstance(bindings, list):
        raise SourceError("unexpected answer: no results.bindings list")
    by_target: dict[str, list[int]] = {}
    for target in targets:
        if target.celex:
            by_target.setdefault(target.celex, []).append(target.regulation_id)
        for procedure in target.procedures:
            if PROCEDURE.match(procedure.strip()):
                by_target.setdefault(cellar_procedure(procedure), []).append(target.regulation_id)
    findings: list[Finding] = []
    errors: list[str] = []
    for number, binding in enumerate(bindings, start=1):
        try:
            findings.extend(finding_from_binding(binding, by_target))
        except ValueError as exc:
            errors.append(f"binding {number}: {exc}")
    return findings, errors


def finding_from_binding(binding: Any, by_target: dict[str, list[int]]) -> list[Finding]:
    if not isinstance(binding, dict):
        raise ValueError("not an object")

    def value(name: str) -> str:
        term = binding.get(name)
        if term is None:
            return ""
        if not isinstance(term, dict) or not isinstance(term.get("value"), str):
            raise ValueError(f"?{name} is not an RDF term")
        return term["value"].strip()

    relation, target, work = value("relation"), value("target"), value("work")
    if relation not in KINDS:
        raise ValueError(f"unknown relation {relation!r}")
    if target not in by_target:
        raise ValueError(f"not a tracked act or procedure: {target!r}")
    if not work:
        raise ValueError("no ?work")
    celex = value("celex").removeprefix("celex:")
    title = " ".join(value("title").split())
    if not celex and not title:
        return []  # a bare member of a dossier (an OJ issue, an addendum): nothing to show
    if relation == "consolidated":
        title = f"Consolidated text {celex}: {title}" if title else f"Consolidated text {celex}"
    published_on = parse_date(value("date"))
    return [
        Finding(
            regulation_id=regulation_id,
            source="sparql",
            kind=KINDS[relation],
            external_id=celex or work,
            title=title or celex or work,
            link=EURLEX_CELEX_URL.format(celex=celex) if celex else work,
            published_on=published_on,
            raw=binding,
            text=title,
        )
        for regulation_id in by_target[target]
    ]


def parse_date(text: str) -> dt.date | None:
    """xsd:date (possibly with a zone, "2026-07-24+02:00") or xsd:dateTime -> date."""
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError as exc:
        raise ValueError(f"not a date: {text!r}") from exc


# Feeds ----------------------------------------------------------------------------------------


def feed_ask(url: str, targets: list[Target]) -> tuple[list[Finding], list[str]]:
    return feed_parse(fetch(url, accept=FEED_ACCEPT), targets)


def feed_parse(body: bytes, targets: list[Target]) -> tuple[list[Finding], list[str]]:
    """An RSS or Atom document -> findings for the entries that name a tracked act or procedure."""
    parsed = feedparser.parse(body)
    problem = parsed.get("bozo_exception")
    if not parsed.get("version"):
        raise SourceError(f"not an RSS or Atom feed{f': {problem}' if problem else ''}")
    if parsed.get("bozo") and not isinstance(problem, feedparser.CharacterEncodingOverride):
        raise SourceError(f"malformed feed: {problem}")
    patterns = [(target, mention_patterns(target)) for target in targets]
    findings: list[Finding] = []
    errors: list[str] = []
    for number, entry in enumerate(parsed.entries, start=1):
        try:
            findings.extend(findings_from_entry(entry, patterns))
        except (ValueError, TypeError, AttributeError) as exc:
            errors.append(f"entry {number}: {exc}")
    return findings, errors


def mention_patterns(target: Target) -> list[tuple[str, re.Pattern[str]]]:
    """How an entry may name the act ("32024R1689", "2024/1689") or a procedure."""
    found: list[tuple[str, re.Pattern[str]]] = []
    if target.celex:
        found.append(("act", re.compile(rf"(?<![0-9A-Z]){re.escape(target.celex)}(?!\d)", re.I)))
        found.append(("act", re.compile(rf"(?<![\d/]){re.escape(target.act_number)}(?![\d])")))
    for procedure in target.procedures:
        if PROCEDURE.match(procedure.strip()):
            for form in {procedure.strip(), cellar_procedure(procedure)}:
                found.append(("procedure", re.compile(rf"(?<!\d){re.escape(form)}", re.I)))
    return found


def findings_from_entry(
    entry: Any, patterns: list[tuple[Target, list[tuple[str, re.Pattern[str]]]]]
) -> list[Finding]:
    title = " ".join(str(entry.get("title", "")).split())
    summary = " ".join(str(entry.get("summary", "")).split())
    link = str(entry.get("link", "")).strip()
    entry_id = str(entry.get("id", "")).strip()
    tags = " ".join(str(tag.get("term", "")) for tag in entry.get("tags", []))
    text = " ".join([title, summary, link, entry_id, tags])
    act_celex = linked_celex(f"{link} {entry_id}")
    findings = []
    for target, target_patterns in patterns:
        how = next((how for how, pattern in target_patterns if pattern.search(text)), None)
        if how is None or (act_celex and act_celex == target.celex):
            continue  # not about a tracked act, or the tracked act's own entry
        external_id = act_celex or entry_id or link
        if not external_id:
            external_id = "sha1:" + hashlib.sha1(text.encode()).hexdigest()  # noqa: S324
        findings.append(
            Finding(
                regulation_id=target.regulation_id,
                source="feed",
                kind=entry_kind(f"{title} {summary}", how),
                external_id=external_id,
                title=title or external_id,
                link=link if link.startswith(("https://", "http://")) else "",
                published_on=entry_date(entry),
                raw=entry_raw(entry),
                text=f"{title} {summary}",
            )
        )
    return findings


def linked_celex(text: str) -> str:
    """The CELEX of the act an entry links to (EUR-Lex CELEX or ELI link), if any."""
    match = LINKED_CELEX.search(text)
    if match:
        return match["celex"].upper()
    match = LINKED_ELI.search(text)
    if match:
        return f"3{match['year']}{ELI_TYPES[match['type']]}{int(match['number']):04d}"
    return ""


def entry_date(entry: Any) -> dt.date | None:
    """The date as the feed writes it: feedparser's parsed tuples are in UTC, which moves
    "10 Dec 2026 00:00 +0100" to the 9th."""
    written = str(entry.get("published") or entry.get("updated") or "").strip()
    if written:
        try:
            return email.utils.parsedate_to_datetime(written).date()
        except (TypeError, ValueError):
            pass
        try:
            return dt.datetime.fromisoformat(written).date()
        except ValueError:
            pass
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return dt.date(*parsed[:3]) if parsed else None


def entry_kind(text: str, how: str) -> str:
    lowered = text.lower()
    if "corrigendum" in lowered or "correcting" in lowered:
        return "corrects"
    if "amending" in lowered:
        return "amends"
    if "repealing" in lowered:
        return "repeals"
    if "consolidated" in lowered:
        return "consolidated"
    return "procedure" if how == "procedure" else "other"


def entry_raw(entry: Any) -> dict[str, Any]:
    """The entry as JSON: feedparser's parsed time tuples are left out (the strings stay)."""
    kept = {key: item for key, item in entry.items() if not key.endswith("_parsed")}
    return json.loads(json.dumps(kept, default=str))
