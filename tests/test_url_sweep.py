"""Every URL pattern, seven kinds of actor, GET and POST: no 5xx, no leak, no unauthorised write.

The routes are read from the URLconf (django.urls.get_resolver(), recursively), so a new route
is swept without editing this file. Path parameters are filled with real objects of "Acme
Secret Labs", an organisation that some actors belong to and others do not: its slug, its
members, its invitation, its system, items and incident, and for the admin an object of each
model. A POST replays the form the page itself offers (to its owner, or to a superuser for the
admin), with its text changed, so that a missing permission check would show as a write.

Each request runs in a savepoint that is rolled back, so every actor meets the same data.
For each request:

- no answer is a 5xx, for anyone (and a NUL character in a text parameter is no 5xx either);
- anonymous, an outsider (signed in, in an organisation of their own) and staff without any
  permission never read Acme's name, notes, system or incident, and never get a 2xx from a
  URL that names one of Acme's objects;
- those three, and a viewer, and an editor on what only owners may do, change nothing of
  Acme's rows, the catalogue, or the accounts of Acme's members, staff and superusers.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from types import ModuleType

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, reset_queries, transaction
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, include, path, resolve
from django.utils import timezone

from config import urls as root_urls
from tests.conftest import PACKS
from tests.factories import UserFactory
from tests.html_forms import form_fields
from tracker.accounts.services import email_verify
from tracker.catalogue.models import Milestone, MilestoneChange, Regulation
from tracker.catalogue.pack_load import catalogue_load_file
from tracker.workspace.models import (
    AISystem,
    Evidence,
    Incident,
    Invitation,
    Membership,
    Organisation,
    TrackedItem,
)
from tracker.workspace.services import organisation_create
from tracker.workspace.slugs import reserved_slugs

pytestmark = pytest.mark.django_db

ORG_NAME = "Acme Secret Labs"
SECRETS = (ORG_NAME, "secret-note-QX7", "Secret Screener ZX9", "secret incident QX7")
ACTORS = ("anonymous", "outsider", "viewer", "editor", "owner", "staff", "superuser")
STRANGERS = ("anonymous", "outsider", "staff")  # never Acme's data, never a write
NUL = "swept\x00nul"

# Writes a member may make for themselves, whatever their role (route name, actor).
OWN_WRITES = {
    ("workspace:my_reminders", "viewer"),  # their own reminder settings
    ("workspace:my_reminders", "editor"),
    ("workspace:my_calendar", "viewer"),  # their own calendar address
    ("workspace:my_calendar", "editor"),
    ("workspace:member_remove", "editor"),  # the editor's own membership: leaving
    ("workspace:tokens", "viewer"),  # their own read-only API token
}
# Routes where only an owner may write (an editor's POST must change nothing).
OWNER_ONLY = {
    "workspace:members",
    "workspace:member_role",
    "workspace:member_remove",
    "workspace:ownership_transfer",
    "workspace:invitation_revoke",
    "workspace:invitation_resend",
}
# An extra field a replayed form gets, so that confirmation pages act.
EXTRA_POST = {"confirm": "yes"}


# The routes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One URL pattern with its full route text, its namespaced name and its parameters."""

    parts: tuple[str, ...]  # the pattern text of each level, root first
    name: str
    params: tuple[str, ...]

    @property
    def text(self) -> str:
        return "".join(self.parts)


_PARAM = re.compile(
    r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>"  # <int:pk>
    r"|\(\?P<(?P<rname>\w+)>(?P<rx>[^)]*)\)"  # (?P<pk>[^/.]+)
    r"|\((?P<anon>[^?)][^)]*)\)"  # ([^/]+): simple-history's object and version
)
ANONYMOUS_GROUPS = ("object_id", "history_id")


def _param_name(m: re.Match, anonymous_index: int) -> str:
    if m.group("anon") is not None:
        return ANONYMOUS_GROUPS[min(anonymous_index, len(ANONYMOUS_GROUPS) - 1)]
    return m.group("name") or m.group("rname")


def routes(resolver=None, parts=(), namespace="") -> Iterator[Route]:
    for pattern in (resolver or get_resolver()).url_patterns:
        text = str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from routes(pattern, (*parts, text), ns)
        elif isinstance(pattern, URLPattern):
            all_parts = (*parts, text)
            found = [m for p in all_parts for m in _PARAM.finditer(p)]
            anonymous = [m for m in found if m.group("anon") is not None]
            params = tuple(
                _param_name(m, anonymous.index(m) if m in anonymous else 0) for m in found
            )
            name = f"{namespace}{pattern.name}" if pattern.name else ""
            yield Route(parts=all_parts, name=name, params=params)


def _previous_word(text: str, start: int) -> str:
    words = re.findall(r"[a-z][a-z_-]*", text[:start].lower())
    return words[-1] if words else ""


def _regex_alternative(regex: str) -> str:
    """A value that matches a simple regex group, such as the admin's app labels."""
    if "|" in regex:
        return regex.split("|")[0].strip("()^$")
    if regex in (r"\d+", "[0-9]+"):
        return "1"
    if "a-z0-9" in regex:  # a format suffix
        return "json"
    return "x"


def build_url(route: Route, values: dict[str, str], nul: bool = False) -> str:
    """The route with each parameter filled: the value `values` has for it (by its name and the
    word before it), and NUL inside the text ones if `nul`."""
    url, anonymous = "", 0
    for part in route.parts:
        piece, last = "", 0
        for m in _PARAM.finditer(part):
            piece += part[last : m.start()]
            name = _param_name(m, anonymous)
            anonymous += m.group("anon") is not None
            conv = m.group("conv") or ""
            before = _previous_word(url + piece, len(url + piece))
            value = values.get(f"{before}.{name}") or values.get(name)
            if value is None:
                value = _regex_alternative(m.group("rx") or "")
                value = "1" if conv == "int" else value
            if nul and conv in ("str", "path", "") and not value.isdigit():
                value = NUL
            piece += str(value)
            last = m.end()
        piece += part[last:]
        url += piece
    url = re.sub(r"/\?\$", "", url)  # an optional final slash: without it
    url = url.replace("^", "").replace("$", "").replace("\\", "")
    url = re.sub(r"\?\??", "", url)
    return "/" + url.lstrip("/")


def _admin_model(name: str):
    """The model an admin route is about ("admin:workspace_organisation_change"), if any."""
    if not name.startswith("admin:"):
        return None
    for model in apps.get_models():
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}_"
        if name.startswith(prefix):
            return model
    return None


# The forms a page offers --------------------------------------------------------------------


def _changed(kind: str, name: str, value: str) -> str:
    """The value a little changed, or a valid one where the page shows none, so that a
    submission that should be refused would write if it were not."""
    if kind in ("hidden", "number", "password") or name == "csrfmiddlewaretoken":
        return value
    if kind == "email" or "email" in name:
        return "swept@example.org"
    if kind == "url" or "evidence" in name or "url" in name:
        return value or "https://example.org/swept"
    if kind == "date":
        return value or timezone.localdate().isoformat()
    if kind == "datetime-local":
        yesterday = timezone.localtime() - dt.timedelta(days=1)
        return value or yesterday.strftime("%Y-%m-%dT%H:%M")
    if kind == "textarea" or name in ("name", "title"):
        return f"{value} (swept)" if value else "Swept"
    return value  # structured text (lead times, a time zone): as shown


def post_data(html: str, path: str) -> dict[str, list[str]]:
    """The first POST form that submits to `path`, as a browser would send it (text a little
    changed), plus extras."""
    data = form_fields(html, path, change=_changed) or {}
    for name, value in EXTRA_POST.items():
        data.setdefault(name, [value])
    return data


# The world --------------------------------------------------------------------------------


@dataclass
class World:
    org: Organisation
    clients: dict[str, Client]
    values: dict[str, str]


def _snapshot(org: Organisation) -> dict:
    """What no one without the right may change: Acme's rows in every workspace and webhooks
    model (with their history), the catalogue, groups, and the accounts of Acme's members and
    of staff."""
    found = {}
    models = [*apps.get_app_config("workspace").get_models()]
    models += [*apps.get_app_config("webhooks").get_models()]
    for model in models:
        names = {f.name for f in model._meta.fields}
        if "organisation" in names:
            rows = model.objects.filter(organisation_id=org.pk)
        elif model._meta.model_name in ("organisation", "historicalorganisation"):
            rows = model.objects.filter(id=org.pk)
        else:
            rows = model.objects.all()
        found[model._meta.label] = sorted(map(repr, rows.values_list()))
    for label in ("catalogue.Milestone", "catalogue.Amendment", "catalogue.Regulation",
                  "catalogue.Role", "catalogue.Scope", "catalogue.MilestoneChange"):  # fmt: skip
        found[label] = sorted(map(repr, apps.get_model(label).objects.values_list()))
    users = get_user_model().objects.filter(memberships__organisation=org) | get_user_model(
    ).objects.filter(is_staff=True)  # fmt: skip
    found["users"] = sorted(
        map(repr, users.distinct().values_list(
            "pk", "username", "email", "password", "is_active", "is_staff", "is_superuser"
        ))
    )  # fmt: skip
    found["groups"] = sorted(
        map(repr, Group.objects.values_list("name", "permissions", "user"))
    )  # fmt: skip
    return found


@pytest.fixture
def world(loaded_small_pack) -> World:
    catalogue_load_file(path=PACKS / "obligations-small.yaml")  # the admin's obligation pages
    olive = UserFactory(username="olive")
    eddie = UserFactory(username="eddie")
    vera = UserFactory(username="vera")
    otto = UserFactory(username="otto")
    organisation_create(name="Other Co", owner=otto)
    people = {
        "outsider": otto,
        "viewer": vera,
        "editor": eddie,
        "owner": olive,
        "staff": UserFactory(username="stan", is_staff=True),
        "superuser": UserFactory(username="root", is_staff=True, is_superuser=True),
    }
    for person in people.values():  # so that owners may invite, members be reminded
        email_verify(user=person, email=person.email)
    org = organisation_create(name=ORG_NAME, owner=olive)
    Membership.objects.create(organisation=org, user=eddie, role=Membership.Role.EDITOR)
    Membership.objects.create(organisation=org, user=vera, role=Membership.Role.VIEWER)
    invitation = Invitation.objects.create(
        organisation=org, email="invitee@example.org", role="editor", invited_by=olive
    )
    system = AISystem.objects.create(
        organisation=org, name="Secret Screener ZX9", roles=["provider"],
        risk_class="high_risk_annex_iii", annex_iii_point="4a",
        placed_on_market=dt.date(2027, 1, 4),
    )  # fmt: skip
    items = [
        TrackedItem.objects.create(
            organisation=org,
            milestone=m,
            notes="secret-note-QX7",
            owner=eddie,
            reasons=[{"rule": "sweep", "article": "Art. 1", "text": "Swept", "system": ""}],
        )
        for m in Milestone.objects.order_by("key")
    ]
    piece = Evidence.objects.create(
        organisation=org,
        title="Audit secret-note-QX7",
        link="https://example.org/audit",
        added_by=olive,
    )
    piece.covers.set(items[:2])
    incident = Incident.objects.create(
        organisation=org, system=system, kinds=["general"], member_state="FR",
        aware_at=timezone.now() - dt.timedelta(hours=3), description="secret incident QX7",
        owner=olive,
    )  # fmt: skip
    clients = {}
    for actor in ACTORS:
        client = Client(raise_request_exception=False)
        if actor != "anonymous":
            client.force_login(people[actor])
        clients[actor] = client
    milestone = Milestone.objects.order_by("key").first()
    values = {
        "slug": org.slug,
        "members.pk": str(eddie.memberships.get(organisation=org).pk),
        "invitations.pk": str(invitation.pk),
        "incidents.pk": str(incident.pk),
        "evidence.pk": str(piece.pk),
        "items.pk": str(items[0].pk),
        "systems.pk": str(system.pk),
        "milestones.key": milestone.key,
        "milestones.pk": milestone.key,
        "regulations.key": Regulation.objects.get().key,
        "regulations.pk": Regulation.objects.get().key,
        "changes.pk": str(MilestoneChange.objects.order_by("pk").first().pk),
        "format": "json",
    }
    return World(org=org, clients=clients, values=values)


def _values_for(route: Route, world: World) -> dict[str, str]:
    """The parameters of a route: Acme's objects, or for an admin route an object of its
    model (Acme's own where the model belongs to an organisation)."""
    values = dict(world.values)
    model = _admin_model(route.name)
    if model is not None and "object_id" in route.params:
        rows = model._default_manager.order_by("pk")
        if model is Organisation:
            rows = rows.filter(pk=world.org.pk)
        elif "organisation" in {f.name for f in model._meta.fields}:
            rows = rows.filter(organisation=world.org)
        obj = rows.first()
        values["object_id"] = str(obj.pk) if obj else "1"
        history = getattr(obj, "history", None)
        if history is not None and history.exists():
            values["history_id"] = str(history.first().history_id)
    return values


def _names_acme(route: Route, url: str, world: World) -> bool:
    """True if the URL points at Acme or one of its objects."""
    if world.org.slug in url:
        return True
    model = _admin_model(route.name)
    if model is None or "object_id" not in route.params:
        return False
    return model is Organisation or "organisation" in {f.name for f in model._meta.fields}


# The sweep --------------------------------------------------------------------------------


WATCHED = re.compile(
    r'^\s*(INSERT|UPDATE|DELETE)\b.*?"?(workspace_|webhooks_|catalogue_|auth_)', re.I | re.S
)


def _request(client: Client, method: str, url: str, data=None, baseline: dict | None = None):
    """The response, and whether the request changed anything `_snapshot` watches (when given
    the snapshot from before: every request is rolled back, so it is the same for all). The
    rows are compared only after a write to a watched table, which keeps the sweep fast."""
    changed = False
    reset_queries()  # the log keeps 9000 queries: a full one would hide this request's
    cookies = SimpleCookie(client.cookies.output(header="", sep=";"))  # rolled back too
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        if method == "GET":
            response = client.get(url)
        elif method == "PATCH":
            response = client.patch(url, data, content_type="application/json")
        else:
            response = client.post(url, data or {})
        if baseline is not None and any(WATCHED.match(q["sql"]) for q in queries):
            changed = _snapshot(baseline["org"]) != baseline["rows"]
        transaction.set_rollback(True)
    client.cookies = cookies  # a logout or a new session must not carry over to the next URL
    return response, changed


def _may_write(route: Route, actor: str) -> bool:
    if actor in ("owner", "superuser"):
        return True
    if actor in STRANGERS:
        return False
    if (route.name, actor) in OWN_WRITES:
        return True
    if actor == "viewer":
        return False
    return route.name not in OWNER_ONLY  # editor


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def _form_to_replay(url: str, pages: dict) -> dict:
    """The form the page offers to those who may use it: the owner, else a superuser, else
    anyone."""
    for actor in ("owner", "superuser", "anonymous"):
        response = pages[actor]
        if response.status_code == 200 and "html" in response.get("Content-Type", ""):
            return post_data(_body(response), url)
    return {name: [value] for name, value in EXTRA_POST.items()}


def _check(problems, route, url, names_acme, actor, method, response, changed) -> None:
    where = f"{method} {url} as {actor} ({route.name or route.text})"
    status = response.status_code
    if status >= 500:
        problems.append(f"{where}: {status}")
    if changed and not _may_write(route, actor):
        problems.append(f"{where}: changed data without the right to ({status})")
    if actor in STRANGERS:
        leaked = [s for s in SECRETS if s in _body(response)]
        if leaked:
            problems.append(f"{where}: shows {leaked}")
        if names_acme and 200 <= status < 300:
            problems.append(f"{where}: {status} for one of Acme's objects")


def sweep(world: World, selected: list[Route]) -> list[str]:
    """Every request of the sweep for these routes; what went wrong, one line each."""
    problems: list[str] = []
    baseline = {"org": world.org, "rows": _snapshot(world.org)}
    for route in selected:
        url = build_url(route, _values_for(route, world))
        names_acme = _names_acme(route, url, world)
        pages = {}
        for actor in ACTORS:
            watch = None if _may_write(route, actor) else baseline  # no need to compare
            response, changed = _request(world.clients[actor], "GET", url, baseline=watch)
            pages[actor] = response
            _check(problems, route, url, names_acme, actor, "GET", response, changed)
        writes = [("POST", _form_to_replay(url, pages))]
        if url.startswith("/api/") and route.params:
            writes.append(("PATCH", {"notes": "swept", "name": "swept", "status": "done"}))
        for actor in ACTORS:
            watch = None if _may_write(route, actor) else baseline  # no need to compare
            for method, payload in writes:
                response, changed = _request(
                    world.clients[actor], method, url, payload, baseline=watch
                )
                _check(problems, route, url, names_acme, actor, method, response, changed)
        if any(p in route.text for p in ("<str:", "<path:", "<uidb64>", "<token>", "[^/.]+")):
            nul_url = build_url(route, _values_for(route, world), nul=True)
            for actor in ("anonymous", "owner", "superuser"):
                status = _request(world.clients[actor], "GET", nul_url)[0].status_code
                if status >= 500:
                    problems.append(f"GET {nul_url!r} as {actor}: {status}")
    return problems


def test_every_route_for_every_actor_has_no_5xx_no_leak_and_no_unauthorised_write(world):
    every = list(routes())
    assert len(every) > 150  # the sweep found the URLconf

    assert sweep(world, every) == []


def _leaky(request, slug):
    """A view that forgot every check: it shows the organisation and renames it on POST."""
    org = Organisation.objects.get(slug=slug)
    if request.method == "POST":
        Organisation.objects.filter(pk=org.pk).update(name="Renamed")
    return HttpResponse(org.name)


# With @pytest.mark.urls(__name__), the real URLconf plus one leaky route.
urlpatterns = [path("leaky/<slug:slug>/", _leaky, name="leaky"), *root_urls.urlpatterns]


@pytest.mark.urls(__name__)
def test_the_sweep_catches_a_view_that_forgets_its_checks(world):
    leaky = [r for r in routes() if r.name == "leaky"]

    problems = sweep(world, leaky)

    for actor in STRANGERS:
        assert f"GET /leaky/{world.org.slug}/ as {actor} (leaky): shows ['{ORG_NAME}']" in problems
        assert any(p.startswith(f"POST /leaky/{world.org.slug}/ as {actor} (leaky): changed")
                   for p in problems)  # fmt: skip
    assert not any(" as owner " in p and "changed" in p for p in problems)
    assert any(" as viewer " in p and "changed" in p for p in problems)


def test_staff_without_the_permission_do_not_see_the_staff_overview(world):
    url = build_url(
        next(r for r in routes() if r.name == "workspace:staff_dashboard"), world.values
    )

    statuses = {
        actor: _request(world.clients[actor], "GET", url)[0].status_code for actor in ACTORS
    }

    assert statuses["staff"] in (302, 403)
    assert statuses["anonymous"] == 302
    assert statuses["outsider"] in (302, 403)
    assert statuses["superuser"] == 200
    assert ORG_NAME in _body(_request(world.clients["superuser"], "GET", url)[0])


def test_the_sweep_fills_parameters_with_acmes_objects(world):
    by_name = {r.name: r for r in reversed(list(routes()))}  # the first of a name: no suffix

    item = build_url(by_name["workspace:item"], _values_for(by_name["workspace:item"], world))
    api_item = build_url(by_name["v1:org-item-detail"], world.values)
    suffix = build_url(by_name["v1:subscription-list"], world.values)
    remove = by_name["workspace:member_remove"]

    assert item == f"/w/{world.org.slug}/items/{world.values['items.pk']}/"
    assert api_item == (f"/api/v1/organisations/{world.org.slug}/items/{world.values['items.pk']}/")
    assert suffix == "/api/v1/subscriptions/"
    assert build_url(remove, world.values).endswith(
        f"/members/{world.values['members.pk']}/remove/"
    )
    assert "/api/v1/subscriptions.json" in {
        build_url(r, world.values) for r in routes() if r.name == "v1:subscription-list"
    }


def test_a_replayed_form_carries_what_a_browser_would_send_a_little_changed():
    html = """
    <form method="post" action="/w/acme/items/3/">
      <input type="hidden" name="csrfmiddlewaretoken" value="t">
      <input name="name" value="Screener"><input name="lead_days" value="90, 30">
      <input type="checkbox" name="flag" checked><input type="checkbox" name="off">
      <select name="status"><option value="a">A</option><option value="b" selected>B</option>
      </select>
      <select name="system" required><option value="" selected>---</option>
      <option value="7">CV</option></select>
      <select name="region"><option value="" selected>---</option><option value="x">X</option>
      </select>
      <textarea name="notes">
Gap analysis</textarea><textarea name="evidence"></textarea>
      <button type="submit" name="go">Save</button>
    </form>
    <form method="get"><input name="q"></form>
    """

    data = post_data(html, "/w/acme/items/3/")

    assert data == {
        "csrfmiddlewaretoken": ["t"], "name": ["Screener (swept)"], "lead_days": ["90, 30"],
        "flag": ["on"], "off": ["on"], "status": ["b"], "system": ["7"], "region": [""],
        "notes": ["Gap analysis (swept)"], "evidence": ["https://example.org/swept"],
        "confirm": ["yes"],
    }  # fmt: skip


# Reserved slugs: no organisation's address hides a route ------------------------------------


def test_the_reserved_slugs_are_the_fixed_first_segments_of_the_workspace_routes():
    fixed = {
        r.parts[-1].split("/")[0]
        for r in routes()
        if r.name.startswith("workspace:") and not r.parts[-1].startswith("<") and r.parts[-1]
    }

    assert reserved_slugs() == fixed
    assert {"invitations", "import", "mail", "_staff"} <= reserved_slugs()


@pytest.mark.parametrize("name", ["Invitations", "import", "MAIL", "Invitations!"])
def test_an_organisation_named_like_a_route_gets_another_address_and_both_work(client, db, name):
    owner = UserFactory(username="olive")
    client.force_login(owner)

    org = organisation_create(name=name, owner=owner)

    assert org.slug == f"{name.lower().rstrip('!')}-co"
    assert resolve(f"/w/{org.slug}/").url_name == "timeline"
    assert client.get(f"/w/{org.slug}/").status_code == 200
    assert resolve("/w/invitations/a-token/").url_name == "invitation"
    assert resolve("/w/import/").url_name == "import"
    assert organisation_create(name=name, owner=owner).slug == f"{org.slug}-2"


def test_a_route_added_later_is_reserved_without_editing_a_list(db, settings):
    from tracker.workspace import urls as workspace_urls

    reports = path("reports/", lambda request: HttpResponse("reports"), name="reports")
    workspace = include(([reports, *workspace_urls.urlpatterns], "workspace"))
    urlconf = ModuleType("urls_with_reports")
    urlconf.urlpatterns = [path("w/", workspace)]
    settings.ROOT_URLCONF = urlconf

    org = organisation_create(name="Reports", owner=UserFactory(username="olive"))

    assert "reports" in reserved_slugs()
    assert org.slug == "reports-co"
