"""Evidence that holds up: files and links covering tracked duties, served to members only,
refused with a message when too large or of the wrong type, and reminded before they lapse."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import re
import subprocess
import sys
import zipfile
from html import unescape
from pathlib import Path

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from tests.factories import UserFactory, acme_organisation
from tracker.catalogue.models import Confidence, Obligation
from tracker.outbox import services as outbox
from tracker.outbox.models import Message
from tracker.reminders.models import Subscription
from tracker.reminders.personal import personal_configure
from tracker.workspace import mail_settings
from tracker.workspace.evidence import (
    EVIDENCE_EXPIRY,
    FILE_TYPES,
    evidence_create,
    evidence_expiry_reminders,
    evidence_for_item,
    evidence_update,
    item_label,
)
from tracker.workspace.models import AISystem, Evidence, Membership, TrackedItem
from tracker.workspace.services import system_save

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db

# Small files of each accepted type, built the way the real formats are.
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(20) + b"\xff\xd9"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(64) + b"PE\x00\x00"


def _zip(entries: dict[str, bytes]) -> bytes:
    """The same bytes in every process and at every run (a fixed time on each entry): the
    bytes are in the tests' ids, which pytest-xdist's processes must collect alike."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


DOCX = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
XLSX = _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
ODT = _zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"})
ODS = _zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"})


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    """Evidence files go to a folder of the test's own (the storage follows MEDIA_ROOT)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def org(officer, teammate, ai_act_catalogue):
    """Acme AI (officer owns it; teammate is an editor) with a second system, a deployed credit
    scorer, so that duties of two systems can be covered at once."""
    organisation = acme_organisation(officer)
    Membership.objects.create(organisation=organisation, user=teammate, role="editor")
    system_save(
        system=AISystem(
            organisation=organisation, name="Credit scorer", roles=["deployer"],
            risk_class="high_risk_annex_iii", annex_iii_point="5b",
            placed_on_market=dt.date(2028, 1, 10),
        )
    )  # fmt: skip
    return organisation


@pytest.fixture
def other_viewer(outsider):
    """A viewer of another organisation (Other Co, the outsider's)."""
    person = UserFactory(username="otherviewer")
    other = outsider.memberships.get().organisation
    Membership.objects.create(organisation=other, user=person, role="viewer")
    return person


@pytest.fixture
def viewer_of_acme(org):
    person = UserFactory(username="acmeviewer")
    Membership.objects.create(organisation=org, user=person, role="viewer")
    return person


def _duty_items(org) -> tuple[TrackedItem, TrackedItem]:
    """A duty item of each of Acme's two systems: the rules' own when they track duties per
    system, else made here for the first duty of the catalogue."""
    screener, scorer = org.systems.get(name="CV screener"), org.systems.get(name="Credit scorer")
    found = [
        org.items.filter(system=system).order_by("pk").first() for system in (screener, scorer)
    ]
    if all(found):
        return found[0], found[1]
    obligation = Obligation.objects.order_by("key").first() or _obligation(org)
    return tuple(
        TrackedItem.objects.get_or_create(
            organisation=org, milestone=obligation.milestone, obligation=obligation,
            system=system, defaults={"system_name": system.name},
        )[0]
        for system in (screener, scorer)
    )  # fmt: skip


def _obligation(org) -> Obligation:
    milestone = org.items.order_by("pk").first().milestone
    return Obligation.objects.create(
        key="test-risk-management", milestone=milestone, article="Art. 9(1)",
        roles=["provider"], title="Risk management system", done_when="A documented system.",
        text="A risk management system shall be established.",
        source_url="https://eur-lex.europa.eu/eli/reg/2024/1689/oj", confidence=Confidence.HIGH,
    )  # fmt: skip


def _item(org) -> TrackedItem:
    return org.items.order_by("pk").first()


def _url(name: str, org, **kwargs) -> str:
    return reverse(f"workspace:{name}", kwargs={"slug": org.slug, **kwargs})


def _upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def _stored_files(media: Path) -> list[Path]:
    return [path for path in media.rglob("*") if path.is_file()] if media.exists() else []


def _piece(org, by, *, name="plan.pdf", content=PDF, covers=None, **fields) -> Evidence:
    return evidence_create(
        organisation=org, by=by, title=fields.pop("title", "Risk management plan"),
        covers=covers or [_item(org)], upload=_upload(name, content), **fields,
    )  # fmt: skip


def _post_add(client, org, **data):
    return client.post(_url("evidence_add", org), data)


# Who gets a file --------------------------------------------------------------------------


def test_a_member_downloads_the_file_as_an_attachment_of_its_type(
    client, org, officer, viewer_of_acme
):
    piece = _piece(org, officer, name="Risk plan (signed).pdf")
    client.force_login(viewer_of_acme)  # reading is a viewer's right too

    response = client.get(_url("evidence_file", org, pk=piece.pk))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="Risk plan (signed).pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Length"] == str(len(PDF))


@pytest.mark.parametrize("who", ["anonymous", "outsider", "viewer of another organisation"])
def test_anyone_but_a_member_gets_404_for_a_file(client, org, officer, outsider, other_viewer,
                                                 who):  # fmt: skip
    piece = _piece(org, officer)
    person = {"anonymous": None, "outsider": outsider,
              "viewer of another organisation": other_viewer}[who]  # fmt: skip
    if person is not None:
        client.force_login(person)
    own = person.memberships.get().organisation if person is not None else None

    direct = client.get(_url("evidence_file", org, pk=piece.pk))
    # Through their own organisation's address, with Acme's piece number: not found either
    through_own = client.get(_url("evidence_file", own, pk=piece.pk)) if own else direct

    assert (direct.status_code, through_own.status_code) == (404, 404)
    assert PDF not in direct.content and PDF not in through_own.content


def test_the_stored_name_reveals_nothing_and_the_uploaded_name_is_kept(org, officer, media):
    piece = _piece(org, officer, name="../../etc/Acme secret plan.pdf")

    assert re.fullmatch(r"evidence/[A-Za-z0-9_-]{32}", piece.file.name)
    assert piece.file_name == "Acme secret plan.pdf"  # its last part only
    assert _stored_files(media) == [media / piece.file.name]
    assert piece.sha256 == hashlib.sha256(PDF).hexdigest()
    assert (piece.content_type, piece.file_size) == ("application/pdf", len(PDF))


def test_no_public_url_serves_the_files(client, org, officer, settings):
    piece = _piece(org, officer)

    assert settings.MEDIA_URL in ("", "/")
    assert client.get(f"/{piece.file.name}").status_code == 404
    assert client.get(f"/media/{piece.file.name}").status_code == 404


# What may be stored -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("plan.pdf", PDF, "application/pdf"),
        ("Scan.PNG", PNG, "image/png"),
        ("photo.jpg", JPEG, "image/jpeg"),
        ("photo.jpeg", JPEG, "image/jpeg"),
        ("policy.docx", DOCX, FILE_TYPES["docx"].content_type),
        ("register.xlsx", XLSX, FILE_TYPES["xlsx"].content_type),
        ("log.csv", "date;event\n2027-01-04;Revue été\n".encode(), "text/csv"),
        ("notes.txt", "Plain text, in Latin-1: café\n".encode("latin-1"), "text/plain"),
        ("policy.odt", ODT, FILE_TYPES["odt"].content_type),
        ("register.ods", ODS, FILE_TYPES["ods"].content_type),
    ],
)
def test_each_accepted_type_is_stored_with_the_type_its_content_shows(
    client, org, officer, name, content, content_type
):
    client.force_login(officer)

    response = _post_add(
        client, org, kind="file", file=_upload(name, content), title=name,
        covers=[_item(org).pk],
    )  # fmt: skip

    assert response.status_code == 302, response.content.decode()[:2000]
    piece = Evidence.objects.get()
    assert (piece.content_type, piece.file_name, piece.file_size) == (
        content_type, name, len(content),
    )  # fmt: skip


def test_an_oversized_file_is_refused_with_a_message_and_nothing_is_stored(
    client, org, officer, settings, media
):
    settings.EVIDENCE_MAX_BYTES = 1000
    client.force_login(officer)

    response = _post_add(
        client, org, kind="file", file=_upload("big.pdf", PDF + bytes(1001 - len(PDF))),
        title="Too big", covers=[_item(org).pk],
    )  # fmt: skip

    assert response.status_code == 400
    html = response.content.decode()
    assert "“big.pdf” is larger than 1000 bytes, the most a file may be." in html
    assert "Nothing was stored." in html
    assert Evidence.objects.count() == 0
    assert _stored_files(media) == []


def test_a_file_of_exactly_the_limit_is_accepted(client, org, officer, settings):
    settings.EVIDENCE_MAX_BYTES = 1000
    client.force_login(officer)

    response = _post_add(
        client, org, kind="file", file=_upload("fits.pdf", PDF + bytes(1000 - len(PDF))),
        title="Fits", covers=[_item(org).pk],
    )  # fmt: skip

    assert response.status_code == 302
    assert Evidence.objects.get().file_size == 1000


def test_the_service_refuses_an_oversized_file_with_its_size(org, officer, settings, media):
    settings.EVIDENCE_MAX_BYTES = 2 * 1024 * 1024

    with pytest.raises(ValidationError) as refused:
        _piece(org, officer, name="scan.pdf", content=PDF + bytes(3 * 1024 * 1024))

    assert refused.value.message_dict["file"] == [
        "“scan.pdf” is 3 MB: a file may be at most 2 MB. Nothing was stored."
    ]
    assert (Evidence.objects.count(), _stored_files(media)) == (0, [])


@pytest.mark.parametrize("name", ["setup.exe", "page.html", "archive.zip", "macro.docm", "noext"])
def test_a_disallowed_type_is_refused_by_its_extension(client, org, officer, media, name):
    client.force_login(officer)

    response = _post_add(client, org, kind="file", file=_upload(name, PDF), title="x",
                         covers=[_item(org).pk])  # fmt: skip

    assert response.status_code == 400
    assert (
        f"“{name}” cannot be uploaded: accepted files are PDF, PNG, JPEG, Word (DOCX), "
        "Excel (XLSX), CSV, text (TXT), OpenDocument text (ODT) or OpenDocument spreadsheet "
        "(ODS). Nothing was stored."
    ) in response.content.decode()
    assert (Evidence.objects.count(), _stored_files(media)) == (0, [])


@pytest.mark.parametrize(
    ("name", "content", "label"),
    [
        ("report.pdf", EXE, "PDF"),  # an executable renamed .pdf
        ("photo.png", JPEG, "PNG"),
        ("photo.jpg", PDF, "JPEG"),
        ("policy.docx", XLSX, "Word (DOCX)"),  # a spreadsheet renamed
        ("policy.docx", b"PK\x03\x04 but not an archive", "Word (DOCX)"),
        ("register.xlsx", EXE, "Excel (XLSX)"),
        ("policy.odt", ODS, "OpenDocument text (ODT)"),
        ("register.ods", DOCX, "OpenDocument spreadsheet (ODS)"),
        ("log.csv", EXE, "CSV"),
        ("notes.txt", PNG, "text (TXT)"),
    ],
)
def test_a_file_whose_content_is_not_what_its_name_says_is_refused(
    client, org, officer, media, name, content, label
):
    client.force_login(officer)

    response = _post_add(client, org, kind="file", file=_upload(name, content), title="x",
                         covers=[_item(org).pk])  # fmt: skip

    assert response.status_code == 400
    assert (
        f"“{name}” is not a {label} file, whatever its name says: its content is of another kind."
    ) in response.content.decode()
    assert (Evidence.objects.count(), _stored_files(media)) == (0, [])


def test_only_the_types_an_installation_allows_are_accepted(client, org, officer, settings):
    settings.EVIDENCE_TYPES = ["pdf"]
    client.force_login(officer)

    response = _post_add(client, org, kind="file", file=_upload("scan.png", PNG), title="x",
                         covers=[_item(org).pk])  # fmt: skip

    assert "“scan.png” cannot be uploaded: accepted files are PDF." in response.content.decode()
    assert Evidence.objects.count() == 0


def test_an_empty_file_is_refused(client, org, officer):
    client.force_login(officer)

    response = _post_add(client, org, kind="file", file=_upload("empty.pdf", b""), title="x",
                         covers=[_item(org).pk])  # fmt: skip

    assert response.status_code == 400
    assert Evidence.objects.count() == 0


def test_a_failed_database_write_removes_the_stored_file(org, officer, media, monkeypatch):
    def broken(self, *args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Evidence, "save", broken)

    with pytest.raises(RuntimeError):
        _piece(org, officer)

    assert _stored_files(media) == []


def test_an_upload_without_the_csrf_token_is_refused_before_anything_is_stored(org, officer, media):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(officer)

    response = _post_add(client, org, kind="file", file=_upload("plan.pdf", PDF), title="x",
                         covers=[_item(org).pk])  # fmt: skip

    assert response.status_code == 403
    assert (Evidence.objects.count(), _stored_files(media)) == (0, [])


# Links ------------------------------------------------------------------------------------


def test_a_link_is_evidence_too_and_has_no_file_to_download(client, org, officer):
    client.force_login(officer)

    response = _post_add(client, org, kind="link", link="https://drive.example.org/doc/42",
                         title="Technical documentation", covers=[_item(org).pk])  # fmt: skip

    piece = Evidence.objects.get()
    assert response.status_code == 302
    assert (piece.link, piece.file.name, piece.kind) == (
        "https://drive.example.org/doc/42", "", "link",
    )  # fmt: skip
    assert client.get(_url("evidence_file", org, pk=piece.pk)).status_code == 404
    assert (
        'href="https://drive.example.org/doc/42"'
        in client.get(_url("evidence_list", org)).content.decode()
    )


@pytest.mark.parametrize(
    "link", ["javascript:alert(1)", "ftp://files.example.org/a", "not a link", "data:text/html,x"]
)
def test_only_http_links_are_accepted(client, org, officer, link):
    client.force_login(officer)

    response = _post_add(client, org, kind="link", link=link, title="x", covers=[_item(org).pk])

    assert response.status_code == 400
    assert Evidence.objects.count() == 0


def test_a_link_piece_keeps_a_link(org, officer):
    piece = evidence_create(organisation=org, by=officer, title="Wiki", covers=[_item(org)],
                            link="https://wiki.example.org/")  # fmt: skip

    with pytest.raises(ValidationError) as refused:
        evidence_update(evidence=piece, by=officer, title="Wiki", covers=[_item(org)],
                        expires_on=None, owner=None, link="")  # fmt: skip

    assert refused.value.message_dict["link"] == ["Enter the link."]
    assert Evidence.objects.get().link == "https://wiki.example.org/"


def test_the_database_holds_a_piece_to_a_file_or_a_link(org):
    from django.db import IntegrityError, transaction

    for fields in ({}, {"link": "https://a.example.org", "file": "evidence/x", "file_name": "x"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Evidence.objects.create(organisation=org, title="x", **fields)


# What a piece covers ----------------------------------------------------------------------


def test_a_piece_covering_two_duties_of_two_systems_shows_on_both(client, org, officer):
    screener_duty, scorer_duty = _duty_items(org)
    client.force_login(officer)

    response = _post_add(
        client, org, kind="file", file=_upload("iso42001.pdf", PDF), title="ISO 42001 cert",
        covers=[screener_duty.pk, scorer_duty.pk], expires_on="2099-03-01",
    )  # fmt: skip

    assert response.status_code == 302
    piece = Evidence.objects.get()
    assert evidence_for_item(item=screener_duty) == [piece]
    assert evidence_for_item(item=scorer_duty) == [piece]
    html = client.get(_url("evidence_list", org)).content.decode()
    assert html.count('<li class="evidence') == 1  # one piece, listed once
    assert "CV screener · " in html and "Credit scorer · " in html
    for item in (screener_duty, scorer_duty):
        assert f'href="{_url("item", org, pk=item.pk)}"' in html
        # and each item's page section (templates/workspace/evidence/partials/) lists it
        section = render_to_string(
            "workspace/evidence/partials/item_evidence.html",
            {"item": item, "org": org, "membership": officer.memberships.get(organisation=org)},
        )
        assert "ISO 42001 cert" in section
        assert _url("evidence_file", org, pk=piece.pk) in section
        assert 'expires <time datetime="2099-03-01">1 March 2099</time>' in section


def test_the_form_groups_the_items_by_system(client, org, officer):
    _duty_items(org)
    client.force_login(officer)

    html = client.get(_url("evidence_add", org)).content.decode()

    groups = re.findall(r'<fieldset class="cover-group"><legend>([^<]+)</legend>', html)
    assert groups[0] == "Whole company"
    assert {"CV screener", "Credit scorer"} <= set(groups)


def test_an_item_of_another_organisation_cannot_be_covered(client, org, officer, outsider, media):
    theirs = outsider.memberships.get().organisation
    TrackedItem.objects.create(organisation=theirs, milestone=_item(org).milestone)
    their_item = theirs.items.get()
    client.force_login(officer)

    response = _post_add(client, org, kind="file", file=_upload("plan.pdf", PDF), title="x",
                         covers=[_item(org).pk, their_item.pk])  # fmt: skip

    assert response.status_code == 400
    assert (
        f"Item {their_item.pk} is not one of this organisation&#x27;s tracked items"
        in response.content.decode()
    )
    assert (Evidence.objects.count(), _stored_files(media)) == (0, [])
    with pytest.raises(ValidationError) as refused:  # the service says no as well
        _piece(org, officer, covers=[their_item])
    assert refused.value.message_dict["covers"] == [
        "A piece of evidence covers only this organisation's tracked items."
    ]
    assert _stored_files(media) == []


def test_a_piece_must_cover_something(client, org, officer):
    client.force_login(officer)

    response = _post_add(client, org, kind="file", file=_upload("plan.pdf", PDF), title="x")

    assert response.status_code == 400
    assert "Choose at least one item this evidence covers." in response.content.decode()


def test_the_add_link_of_an_item_ticks_it(client, org, officer):
    item = _item(org)
    client.force_login(officer)

    html = client.get(_url("evidence_add", org) + f"?item={item.pk}").content.decode()

    assert re.search(rf'value="{item.pk}"[^>]*checked', html)


def test_the_owner_must_be_a_member(org, officer, outsider):
    with pytest.raises(ValidationError) as refused:
        _piece(org, officer, owner=outsider)

    assert refused.value.message_dict["owner"] == [
        "The owner must be a member of the organisation."
    ]


# Who may write ----------------------------------------------------------------------------


def test_viewers_read_but_cannot_add_change_or_delete(client, org, officer, viewer_of_acme):
    piece = _piece(org, officer)
    client.force_login(viewer_of_acme)

    assert client.get(_url("evidence_list", org)).status_code == 200
    assert client.get(_url("evidence_edit", org, pk=piece.pk)).status_code == 200
    assert client.get(_url("evidence_add", org)).status_code == 403
    added = _post_add(client, org, kind="link", link="https://a.example.org", title="x",
                      covers=[_item(org).pk])  # fmt: skip
    changed = client.post(_url("evidence_edit", org, pk=piece.pk),
                          {"title": "Renamed", "covers": [_item(org).pk]})  # fmt: skip
    deleted = client.post(_url("evidence_delete", org, pk=piece.pk), {"confirm": "yes"})

    assert (added.status_code, changed.status_code, deleted.status_code) == (403, 403, 403)
    assert list(Evidence.objects.values_list("title", flat=True)) == ["Risk management plan"]
    assert "Add evidence" not in client.get(_url("evidence_list", org)).content.decode()


@pytest.mark.parametrize("name", ["evidence_list", "evidence_edit", "evidence_delete"])
def test_outsiders_find_no_evidence_page(client, org, officer, outsider, name):
    piece = _piece(org, officer)
    client.force_login(outsider)
    kwargs = {} if name == "evidence_list" else {"pk": piece.pk}

    assert client.get(_url(name, org, **kwargs)).status_code == 404


def test_an_editor_changes_a_piece_and_its_history_says_who(client, org, officer, teammate):
    piece = _piece(org, officer, expires_on=dt.date(2030, 1, 1))
    first, second = _duty_items(org)
    client.force_login(teammate)

    response = client.post(_url("evidence_edit", org, pk=piece.pk), {
        "title": "Risk plan v4", "expires_on": "2031-06-30", "owner": teammate.pk,
        "covers": [first.pk, second.pk],
    })  # fmt: skip

    assert response.status_code == 302
    piece.refresh_from_db()
    assert (piece.title, piece.expires_on, piece.owner) == (
        "Risk plan v4", dt.date(2031, 6, 30), teammate,
    )  # fmt: skip
    assert set(piece.covers.all()) == {first, second}
    # One record per change, the items covered with it
    history = list(piece.history.order_by("history_date", "history_id"))
    assert [(h.history_type, h.history_user) for h in history] == [
        ("+", officer), ("~", teammate),
    ]  # fmt: skip
    page = client.get(_url("evidence_edit", org, pk=piece.pk)).content.decode()
    assert "teammate · changed" in page and "officer · added" in page
    assert "<dt>Title</dt><dd><del>Risk management plan</del>" in page
    assert "<ins>Risk plan v4</ins>" in page
    assert "<dt>Expires on</dt><dd><del>1 January 2030</del>" in page
    assert "<ins>30 June 2031</ins>" in page
    covered = "; ".join(item_label(i, scope=True) for i in sorted((first, second), key=_pk))
    assert f"<dt>Covers</dt><dd><del>{_item(org).milestone.title}" in page
    assert f"<ins>{covered}</ins>" in unescape(page)


def _pk(item) -> int:
    return item.pk


def test_replacing_the_file_deletes_the_old_one_after_commit(
    client, org, officer, media, django_capture_on_commit_callbacks
):
    piece = _piece(org, officer)
    old = media / piece.file.name
    client.force_login(officer)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url("evidence_edit", org, pk=piece.pk), {
            "title": "Risk plan v2", "file": _upload("plan-v2.pdf", PDF + b"% v2\n"),
            "covers": [_item(org).pk],
        })  # fmt: skip

    assert response.status_code == 302
    piece.refresh_from_db()
    assert piece.file_name == "plan-v2.pdf"
    assert not old.exists()
    assert _stored_files(media) == [media / piece.file.name]
    download = client.get(_url("evidence_file", org, pk=piece.pk))
    assert b"".join(download.streaming_content) == PDF + b"% v2\n"


def test_deleting_asks_first_then_drops_the_row_and_the_file_after_commit(
    client, org, officer, media, django_capture_on_commit_callbacks
):
    piece = _piece(org, officer)
    stored = media / piece.file.name
    client.force_login(officer)

    question = client.get(_url("evidence_delete", org, pk=piece.pk))
    assert question.status_code == 200
    assert "is deleted from the store for good" in question.content.decode()
    assert stored.exists() and Evidence.objects.count() == 1  # asking changed nothing

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(_url("evidence_delete", org, pk=piece.pk), {"confirm": "yes"})
        assert stored.exists()  # not before the deletion has committed
    for callback in callbacks:
        callback()

    assert response.status_code == 302
    assert Evidence.objects.count() == 0
    assert not stored.exists()
    assert piece.history.filter(history_type="-").get().history_user == officer


def test_a_missing_stored_file_is_a_404_not_a_500(client, org, officer, media):
    piece = _piece(org, officer)
    (media / piece.file.name).unlink()
    client.force_login(officer)

    assert client.get(_url("evidence_file", org, pk=piece.pk)).status_code == 404


# The list ---------------------------------------------------------------------------------


@time_machine.travel(dt.datetime(2027, 11, 1, 12, tzinfo=dt.UTC), tick=False)
def test_the_list_says_what_expired_and_what_expires_soon(client, org, officer):
    _piece(org, officer, title="Old audit", expires_on=dt.date(2027, 10, 1))
    _piece(org, officer, title="Pen test", expires_on=dt.date(2027, 11, 6))
    _piece(org, officer, title="Policy")
    client.force_login(officer)

    html = client.get(_url("evidence_list", org)).content.decode()

    titles = re.findall(r'<h2><a href="[^"]+">([^<]+)</a></h2>', html)
    assert titles == ["Old audit", "Pen test", "Policy"]  # the soonest to lapse first
    assert '<span class="badge expiry expired">expired</span>' in html
    assert '<span class="badge expiry">expires in 5 days</span>' in html
    assert "No expiry" in html


@pytest.mark.parametrize("size", [1, 30])
def test_the_list_runs_a_fixed_number_of_queries(
    client, org, officer, django_assert_num_queries, size
):
    items = list(org.items.order_by("pk")[:2])
    pieces = Evidence.objects.bulk_create(
        Evidence(organisation=org, title=f"Link {n}", link=f"https://d.example.org/{n}",
                 owner=officer, expires_on=dt.date(2030, 1, 1) + dt.timedelta(days=n))
        for n in range(size)
    )  # fmt: skip
    Evidence.covers.through.objects.bulk_create(
        Evidence.covers.through(evidence=piece, trackeditem=item)
        for piece in pieces for item in items
    )  # fmt: skip
    client.force_login(officer)

    # session, user, membership, pieces with owners, the items they cover (with milestones,
    # systems, duties), and the org navigation's count of memberships
    with django_assert_num_queries(6):
        response = client.get(_url("evidence_list", org))

    assert response.content.decode().count('<li class="evidence') == size


# Expiry reminders -------------------------------------------------------------------------

# 1 March 2030, 09:00 in Brussels (the default zone and hour of owner reminders)
EXPIRES = dt.date(2030, 3, 1)
BRUSSELS_9AM = dt.time(8, 0)  # UTC in winter


def _at(day: dt.date, time: dt.time = BRUSSELS_9AM) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=dt.UTC)


def _expiring(org, officer, owner=None, expires_on=EXPIRES, set_at=None) -> Evidence:
    with time_machine.travel(set_at or _at(EXPIRES - dt.timedelta(days=200)), tick=False):
        return _piece(org, officer, title="ISO 27001 certificate", expires_on=expires_on,
                      owner=owner, covers=list(_duty_items(org)))  # fmt: skip


def _expiry_messages():
    return list(Message.objects.filter(kind=EVIDENCE_EXPIRY).order_by("pk"))


def test_the_expiry_reminder_reaches_the_owner_at_the_smtp_server_once(
    org, officer, teammate, smtp_server
):
    piece = _expiring(org, officer, owner=teammate)

    # Seven days before, at 09:00 in Brussels; then the hourly sweep runs again and again
    queued = evidence_expiry_reminders(now=_at(EXPIRES - dt.timedelta(days=7)))
    again = evidence_expiry_reminders(now=_at(EXPIRES - dt.timedelta(days=7), dt.time(9, 20)))
    later = evidence_expiry_reminders(now=_at(EXPIRES - dt.timedelta(days=5)))
    (message,) = _expiry_messages()
    outbox.messages_send(message_ids=[message.pk], now=_at(EXPIRES - dt.timedelta(days=5)))

    assert (queued, again, later) == (1, 0, 0)
    (received,) = smtp_server.messages
    assert received["To"] == "teammate@example.org"
    assert received["Subject"] == "Expires in 7 days: ISO 27001 certificate (Acme AI)"
    body = received.get_payload(decode=True).decode()
    assert "expires in 7 days, on 1 March 2030" in body
    assert "File: plan.pdf" in body
    assert "* CV screener · " in body and "* Credit scorer · " in body
    assert f"/w/{org.slug}/evidence/{piece.pk}/" in body
    assert "because you own this evidence" in body


def test_each_lead_time_is_one_email_and_none_after_it_lapsed(org, officer, teammate):
    _expiring(org, officer, owner=teammate)

    sent = {
        days: evidence_expiry_reminders(now=_at(EXPIRES - dt.timedelta(days=days)))
        for days in (91, 90, 89, 31, 30, 8, 7, 2, 1, 0, -1)
    }

    assert sent == {91: 0, 90: 1, 89: 0, 31: 0, 30: 1, 8: 0, 7: 1, 2: 0, 1: 1, 0: 0, -1: 0}
    subjects = [m.subject for m in _expiry_messages()]
    assert subjects[-1] == "Expires tomorrow: ISO 27001 certificate (Acme AI)"


def test_the_owner_is_reminded_at_their_own_lead_times_zone_and_hour(org, officer, teammate):
    _expiring(org, officer, owner=teammate)
    personal_configure(
        key=mail_settings.owner_key(organisation_id=org.pk, user_id=teammate.pk),
        email=teammate.email, manage_url="https://jalon.example.org/settings", enabled=True,
        lead_days=[3], tz="America/New_York", send_hour=7,
    )  # fmt: skip
    day = EXPIRES - dt.timedelta(days=3)

    early = evidence_expiry_reminders(now=_at(day, dt.time(11, 0)))  # 06:00 in New York
    on_time = evidence_expiry_reminders(now=_at(day, dt.time(12, 0)))  # 07:00 in New York

    assert (early, on_time) == (0, 1)
    assert _expiry_messages()[0].subject.startswith("Expires in 3 days:")


def test_reminders_stop_when_the_owner_turned_off_their_deadline_reminders(org, officer, teammate):
    _expiring(org, officer, owner=teammate)
    personal_configure(
        key=mail_settings.owner_key(organisation_id=org.pk, user_id=teammate.pk),
        email=teammate.email, manage_url="https://jalon.example.org/settings", enabled=False,
        lead_days=[7], tz="Europe/Brussels", send_hour=9,
    )  # fmt: skip

    assert evidence_expiry_reminders(now=_at(EXPIRES - dt.timedelta(days=7))) == 0


def test_without_an_owner_the_organisations_owners_are_reminded(org, officer, teammate):
    co_owner = UserFactory(username="coowner")
    Membership.objects.create(organisation=org, user=co_owner, role="owner")
    _expiring(org, officer, owner=None)

    evidence_expiry_reminders(now=_at(EXPIRES - dt.timedelta(days=7)))

    messages = _expiry_messages()
    assert sorted(m.to_email for m in messages) == ["coowner@example.org", "officer@example.org"]
    assert "nobody owns this evidence" in messages[0].body_text


def test_an_owner_who_left_hands_the_reminder_to_the_organisations_owners(org, officer, teammate):
    _expiring(org, officer, owner=teammate)
    Membership.objects.filter(organisation=org, user=teammate).delete()

    evidence_expiry_reminders(now=_at(EXPIRES - dt.timedelta(days=7)))

    (message,) = _expiry_messages()
    assert message.to_email == "officer@example.org"
    assert "its owner, teammate, is no longer a member" in message.body_text


def test_an_unverified_owner_gets_nothing(org, officer):
    unverified = UserFactory(username="fresh", verified=False)
    Membership.objects.create(organisation=org, user=unverified, role="editor")
    _expiring(org, officer, owner=unverified)

    assert evidence_expiry_reminders(now=_at(EXPIRES - dt.timedelta(days=7))) == 0


def test_lead_times_already_past_when_the_date_was_set_are_not_sent(org, officer, teammate):
    _expiring(org, officer, owner=teammate, set_at=_at(EXPIRES - dt.timedelta(days=5)))

    at_once = evidence_expiry_reminders(now=_at(EXPIRES - dt.timedelta(days=5), dt.time(10)))
    day_before = evidence_expiry_reminders(now=_at(EXPIRES - dt.timedelta(days=1)))

    assert (at_once, day_before) == (0, 1)


def test_a_new_expiry_date_starts_the_reminders_afresh(org, officer, teammate):
    piece = _expiring(org, officer, owner=teammate)
    evidence_expiry_reminders(now=_at(EXPIRES - dt.timedelta(days=7)))
    renewed = dt.date(2031, 3, 1)

    with time_machine.travel(_at(EXPIRES - dt.timedelta(days=6)), tick=False):
        evidence_update(evidence=piece, by=teammate, title=piece.title, covers=piece.covers.all(),
                        expires_on=renewed, owner=teammate)  # fmt: skip
    evidence_expiry_reminders(now=_at(renewed - dt.timedelta(days=7)))

    assert [m.subject.split(":")[0] for m in _expiry_messages()] == ["Expires in 7 days"] * 2
    assert len({m.dedupe_key for m in _expiry_messages()}) == 2


def test_one_piece_that_cannot_be_written_fails_alone(org, officer, teammate):
    _expiring(org, officer, owner=teammate)
    _expiring(org, officer, owner=officer)
    for person in (teammate, officer):  # both have settings; one is corrupt
        personal_configure(
            key=mail_settings.owner_key(organisation_id=org.pk, user_id=person.pk),
            email=person.email, manage_url="https://jalon.example.org/s", enabled=True,
            lead_days=[7], tz="Europe/Brussels", send_hour=9,
        )  # fmt: skip
    Subscription.objects.filter(
        owner_key=mail_settings.owner_key(organisation_id=org.pk, user_id=teammate.pk)
    ).update(timezone="Nowhere/Atlantis")

    queued = evidence_expiry_reminders(now=_at(EXPIRES - dt.timedelta(days=7)))
    again = evidence_expiry_reminders(now=_at(EXPIRES - dt.timedelta(days=7)))

    assert (queued, again) == (1, 0)
    statuses = {m.to_email: m.status for m in _expiry_messages()}
    assert statuses == {"officer@example.org": "queued", "teammate@example.org": "failed"}
    failed = Message.objects.get(status="failed")
    assert "Nowhere/Atlantis" in failed.last_error
    assert failed.subject.startswith("(not written) evidence #")


def test_the_stop_link_stops_these_emails(client, org, officer, teammate):
    if EVIDENCE_EXPIRY not in mail_settings.STOPPABLE:
        pytest.skip("evidence_expiry is not yet a stoppable kind (mail_settings.STOPPABLE)")
    _expiring(org, officer, owner=teammate)
    evidence_expiry_reminders(now=_at(EXPIRES - dt.timedelta(days=30)))
    (message,) = _expiry_messages()
    stop = re.search(r"Stop these emails: (\S+)", message.body_text).group(1)
    assert message.headers["List-Unsubscribe"] == f"<{stop}>"

    assert client.post(stop.removeprefix("http://127.0.0.1:8000")).status_code == 200
    assert evidence_expiry_reminders(now=_at(EXPIRES - dt.timedelta(days=7))) == 0


def test_the_hourly_task_is_scheduled_and_known_to_the_worker(settings):
    from config.celery_app import app

    app.loader.import_default_modules()
    entry = settings.CELERY_BEAT_SCHEDULE["workspace-evidence-expiry-reminders"]

    assert entry["task"] == "tracker.workspace.evidence_tasks.evidence_expiry_reminders_task"
    assert entry["task"] in app.tasks


# Storage settings -------------------------------------------------------------------------


def _settings_in_a_process(**env) -> subprocess.CompletedProcess:
    code = (
        "import config.settings as s; "
        "print(repr(s.STORAGES['evidence'])); print(s.EVIDENCE_MAX_BYTES, s.EVIDENCE_TYPES)"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_")}
    environment.update(SECRET_KEY="test-only", **env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


def test_the_defaults_keep_files_on_disk_with_the_limits_of_the_issue():
    run = _settings_in_a_process()

    assert run.returncode == 0, run.stderr
    assert "django.core.files.storage.FileSystemStorage" in run.stdout
    assert (
        "20971520 ['pdf', 'png', 'jpeg', 'docx', 'xlsx', 'csv', 'txt', 'odt', 'ods']" in run.stdout
    )


def test_a_bucket_switches_evidence_to_an_s3_compatible_store():
    run = _settings_in_a_process(
        EVIDENCE_S3_BUCKET="jalon-evidence", EVIDENCE_S3_ENDPOINT_URL="http://minio:9000",
        EVIDENCE_S3_REGION="eu-west-3", EVIDENCE_S3_ACCESS_KEY_ID="key",
        EVIDENCE_S3_SECRET_ACCESS_KEY="secret", EVIDENCE_S3_ADDRESSING_STYLE="path",
        EVIDENCE_S3_PREFIX="/acme/",
    )  # fmt: skip

    assert run.returncode == 0, run.stderr
    for expected in ("'BACKEND': 'storages.backends.s3.S3Storage'",
                     "'bucket_name': 'jalon-evidence'", "'endpoint_url': 'http://minio:9000'",
                     "'region_name': 'eu-west-3'", "'addressing_style': 'path'",
                     "'location': 'acme'", "'default_acl': 'private'"):  # fmt: skip
        assert expected in run.stdout


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"EVIDENCE_MAX_BYTES": "0"}, "EVIDENCE_MAX_BYTES"),
        ({"EVIDENCE_MAX_BYTES": "20MB"}, "EVIDENCE_MAX_BYTES"),
        ({"EVIDENCE_TYPES": "pdf,exe"}, "EVIDENCE_TYPES"),
        (
            {"EVIDENCE_S3_BUCKET": "b", "EVIDENCE_S3_ENDPOINT_URL": "not a url"},
            "EVIDENCE_S3_ENDPOINT_URL",
        ),
        (
            {"EVIDENCE_S3_BUCKET": "b", "EVIDENCE_S3_ADDRESSING_STYLE": "sideways"},
            "EVIDENCE_S3_ADDRESSING_STYLE",
        ),
        (
            {"EVIDENCE_S3_BUCKET": "b", "EVIDENCE_S3_ACCESS_KEY_ID": "only-half"},
            "EVIDENCE_S3_SECRET_ACCESS_KEY",
        ),
    ],
)
def test_a_bad_setting_stops_start_up_with_its_name(env, named):
    run = _settings_in_a_process(**env)

    assert run.returncode != 0
    assert named in run.stderr


def test_files_round_trip_through_an_s3_store(client, org, officer, monkeypatch,
                                             django_capture_on_commit_callbacks):  # fmt: skip
    moto = pytest.importorskip("moto", reason="moto (requirements-dev) mocks the S3 API")
    import boto3
    from storages.backends.s3 import S3Storage

    with moto.mock_aws():
        boto3.client("s3", region_name="eu-west-3").create_bucket(
            Bucket="jalon-evidence",
            CreateBucketConfiguration={"LocationConstraint": "eu-west-3"},
        )
        store = S3Storage(bucket_name="jalon-evidence", region_name="eu-west-3",
                          access_key="k", secret_key="s", default_acl="private",
                          file_overwrite=False, location="acme")  # fmt: skip
        monkeypatch.setattr(Evidence._meta.get_field("file"), "storage", store)
        piece = _piece(org, officer, name="plan.pdf")
        key = f"acme/{piece.file.name}"
        s3 = boto3.client("s3", region_name="eu-west-3")
        head = s3.head_object(Bucket="jalon-evidence", Key=key)
        grants = s3.get_object_acl(Bucket="jalon-evidence", Key=key)["Grants"]
        client.force_login(officer)
        download = client.get(_url("evidence_file", org, pk=piece.pk))
        body = b"".join(download.streaming_content)
        with django_capture_on_commit_callbacks(execute=True):
            client.post(_url("evidence_delete", org, pk=piece.pk), {"confirm": "yes"})
        listed = s3.list_objects_v2(Bucket="jalon-evidence").get("KeyCount")

    assert head["ContentType"] == "application/pdf"  # the recognised type, not the browser's
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]  # the owner's only
    assert (body, download["Content-Type"]) == (PDF, "application/pdf")
    assert listed == 0


def test_deleting_an_organisation_in_the_admin_leaves_no_file_in_the_store(
    client, org, officer, admin_user, media, outsider, django_capture_on_commit_callbacks
):
    _piece(org, officer)
    _piece(org, officer, name="plan2.pdf", title="Second plan")
    other_org = outsider.memberships.get().organisation
    their_item = TrackedItem.objects.create(organisation=other_org, reasons=[],
                                            milestone=_item(org).milestone)  # fmt: skip
    theirs = _piece(other_org, outsider, covers=[their_item])
    assert len(_stored_files(media)) == 3
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:workspace_organisation_delete", args=[org.pk]), {"post": "yes"}
        )

    assert response.status_code == 302
    assert not Evidence.objects.filter(organisation_id=org.pk).exists()
    assert _stored_files(media) == [media / theirs.file.name]  # the other's stays


# The API --------------------------------------------------------------------------------------


def test_the_api_lists_each_items_evidence_with_member_only_file_addresses(
    client, org, officer, outsider, django_assert_max_num_queries
):
    item = _item(org)
    piece = _piece(org, officer, expires_on=dt.date(2027, 6, 30))
    evidence_create(organisation=org, by=officer, title="Wiki page", covers=[item],
                    link="https://wiki.example.org/oversight")  # fmt: skip
    client.force_login(officer)
    items_url = f"/api/v1/organisations/{org.slug}/items/"

    with django_assert_max_num_queries(12) as few:
        few_items = client.get(items_url).json()
    for other in org.items.order_by("pk")[1:30]:  # 29 more items, each with a piece
        _piece(org, officer, title=f"Plan {other.pk}", covers=[other])
    with django_assert_max_num_queries(len(few.captured_queries)):  # no query per item
        many_items = client.get(items_url).json()
    detail = client.get(f"{items_url}{item.pk}/").json()

    file_url = "http://testserver" + _url("evidence_file", org, pk=piece.pk)
    assert detail["evidence"] == [
        {"id": piece.pk, "title": "Risk management plan", "kind": "file", "url": file_url,
         "expires_on": "2027-06-30"},
        {"id": piece.pk + 1, "title": "Wiki page", "kind": "link",
         "url": "https://wiki.example.org/oversight", "expires_on": None},
    ]  # fmt: skip
    assert few_items["count"] == many_items["count"]
    # the address is no public URL: it answers members only
    client.force_login(outsider)
    assert client.get(file_url).status_code == 404
    # evidence is added on the workspace's pages, not through the item
    client.force_login(officer)
    response = client.patch(f"{items_url}{item.pk}/", {"evidence": []},
                            content_type="application/json")  # fmt: skip
    assert response.status_code == 200 and len(response.json()["evidence"]) == 2


# The data migration -----------------------------------------------------------------------

# The catalogue as it was then too (its milestones' `notes` became `editor_note` later)
CATALOGUE_THEN = ("catalogue", "0009_editors_edit_obligations")
BEFORE = [("workspace", "0007_evidence"), CATALOGUE_THEN]
AFTER = [("workspace", "0008_evidence_from_links"), CATALOGUE_THEN]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_the_migration_turns_each_items_links_into_pieces_and_keeps_every_one():
    old = _migrate(BEFORE)
    Organisation = old.get_model("workspace", "Organisation")
    TrackedItem = old.get_model("workspace", "TrackedItem")
    Regulation = old.get_model("catalogue", "Regulation")
    Milestone = old.get_model("catalogue", "Milestone")
    regulation = Regulation.objects.create(key="eu-ai-act", short_name="AI Act", title="AI Act",
                                           source_url="https://eur-lex.europa.eu/")  # fmt: skip
    first_m, second_m = (
        Milestone.objects.create(regulation=regulation, key=f"m{n}", title=f"M{n}",
                                 date=dt.date(2027, 1, n), legal_basis="Art. 113",
                                 source_url="https://eur-lex.europa.eu/", confidence="high")
        for n in (1, 2)
    )  # fmt: skip
    acme = Organisation.objects.create(name="Acme", slug="acme")
    plan = "https://docs.example.org/risk/plan.pdf"
    item = TrackedItem.objects.create(
        organisation=acme, milestone=first_m, notes="Started in May.",
        evidence_links=[plan, "https://wiki.example.org/", plan, "see the shared drive"],
    )  # fmt: skip
    other = TrackedItem.objects.create(organisation=acme, milestone=second_m,
                                       evidence_links=[plan])  # fmt: skip
    TrackedItem.objects.create(organisation=acme, milestone=Milestone.objects.create(
        regulation=regulation, key="m3", title="M3", date=dt.date(2027, 1, 3),
        legal_basis="Art. 1", source_url="https://eur-lex.europa.eu/", confidence="high",
    ))  # no links: no piece  # fmt: skip

    try:
        new = _migrate(AFTER)
        Evidence = new.get_model("workspace", "Evidence")
        pieces = {
            (piece.link, cover.pk): piece
            for piece in Evidence.objects.prefetch_related("covers")
            for cover in piece.covers.all()
        }
        migrated_item = new.get_model("workspace", "TrackedItem").objects.get(pk=item.pk)

        # One piece per distinct link per item; the same link on two items is two pieces
        assert set(pieces) == {(plan, item.pk), ("https://wiki.example.org/", item.pk),
                               (plan, other.pk)}  # fmt: skip
        assert Evidence.objects.count() == 3
        assert pieces[(plan, item.pk)].title == "docs.example.org/risk/plan.pdf"
        assert pieces[("https://wiki.example.org/", item.pk)].title == "wiki.example.org"
        assert {p.organisation_id for p in pieces.values()} == {acme.pk}
        assert all(p.file == "" and p.expires_on is None for p in pieces.values())
        # The old field stays as it was; what was not a link is kept in the notes
        assert migrated_item.evidence_links == item.evidence_links
        assert migrated_item.notes == (
            "Started in May.\nNoted as evidence before evidence pieces existed (not a link): "
            "see the shared drive"
        )
        history = new.get_model("workspace", "HistoricalEvidence").objects
        assert history.filter(history_type="+").count() == 3

        # Run again (it is re-entrant): nothing doubles
        from importlib import import_module

        import_module("tracker.workspace.migrations.0008_evidence_from_links").links_to_pieces(
            new, None
        )
        assert Evidence.objects.count() == 3
        assert new.get_model("workspace", "TrackedItem").objects.get(pk=item.pk).notes == (
            migrated_item.notes
        )
    finally:
        _migrate(_latest())


LATE_LINKS = [("workspace", "0010_evidence_expiry_setting"), CATALOGUE_THEN]
FIELD_REMOVED = [("workspace", "0012_evidence_links_removed"), CATALOGUE_THEN]


@pytest.mark.django_db(transaction=True)
def test_links_written_after_the_first_migration_become_pieces_before_the_field_goes():
    old = _migrate(LATE_LINKS)
    Organisation = old.get_model("workspace", "Organisation")
    TrackedItem = old.get_model("workspace", "TrackedItem")
    Evidence = old.get_model("workspace", "Evidence")
    Regulation = old.get_model("catalogue", "Regulation")
    Milestone = old.get_model("catalogue", "Milestone")
    regulation = Regulation.objects.create(key="eu-ai-act", short_name="AI Act", title="AI Act",
                                           source_url="https://eur-lex.europa.eu/")  # fmt: skip
    milestone = Milestone.objects.create(
        regulation=regulation, key="m1", title="M1", date=dt.date(2027, 1, 1),
        legal_basis="Art. 113", source_url="https://eur-lex.europa.eu/", confidence="high",
    )  # fmt: skip
    acme = Organisation.objects.create(name="Acme", slug="acme")
    made, late = "https://docs.example.org/made.pdf", "https://docs.example.org/late.pdf"
    item = TrackedItem.objects.create(organisation=acme, milestone=milestone,
                                      evidence_links=[made, late])  # fmt: skip
    # `made` became a piece when 0008 ran; `late` was typed in the item's box afterwards
    Evidence.objects.create(organisation=acme, title="made", link=made).covers.add(item)

    try:
        new = _migrate(FIELD_REMOVED)
        pieces = new.get_model("workspace", "Evidence").objects.filter(covers=item.pk)

        assert sorted(pieces.values_list("link", flat=True)) == [late, made]  # none twice
        assert pieces.get(link=late).title == "docs.example.org/late.pdf"
        columns = [c.name for c in connection.introspection.get_table_description(
            connection.cursor(), "workspace_trackeditem")]  # fmt: skip
        assert "evidence_links" not in columns
    finally:
        _migrate(_latest())


def test_the_upload_check_reads_only_the_head_of_a_file_and_rewinds_it(org, officer):
    upload = _upload("plan.pdf", PDF + bytes(100_000))
    upload.read(10)

    piece = evidence_create(organisation=org, by=officer, title="x", covers=[_item(org)],
                            upload=upload)  # fmt: skip

    with piece.file.open("rb") as stored:
        assert stored.read() == PDF + bytes(100_000)


def test_expiry_and_timezone_words_use_the_local_day(org, officer):
    piece = _piece(org, officer, expires_on=timezone.localdate() + dt.timedelta(days=1))

    from tracker.workspace.evidence import expiry_words

    assert expiry_words(piece, timezone.localdate()) == "expires in 1 day"
    assert expiry_words(piece, piece.expires_on) == "expires today"
    assert expiry_words(piece, piece.expires_on + dt.timedelta(days=1)) == "expired"
