"""Evidence that holds up: the files and links that show obligations are met.

Writes (services) and reads (selectors) of evidence pieces, the upload checks, and the expiry
reminders. A file is checked before anything is stored: its size (EVIDENCE_MAX_BYTES), its
extension (EVIDENCE_TYPES) and its first bytes, which must be what the extension says; a file
that fails is refused with a message and leaves no row and no stored file behind. Stored files
carry a random name; the row keeps the uploaded name, the recognised type and a SHA-256.

Expiry reminders reach a piece's owner (or, without an owner who is still a member, the
organisation's owners) at the person's own owner-reminder lead times, zone and hour (the
reminder engine's settings, tracker.reminders.personal), once per piece, expiry date and lead
time (the outbox's dedupe key), and only at a verified address.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from tracker.accounts.verification import email_verified
from tracker.outbox import services as outbox
from tracker.reminders.personal import PersonalSettings, personal_settings
from tracker.reminders.validation import MAX_LEAD_DAYS
from tracker.workspace import mail_settings
from tracker.workspace.evidence_models import EVIDENCE_HISTORY
from tracker.workspace.models import (
    WHOLE_COMPANY_LABEL,
    Evidence,
    Membership,
    Organisation,
    OwnerReminders,
    TrackedItem,
)
from tracker.workspace.notifications import workspace_message

log = logging.getLogger(__name__)

EVIDENCE_EXPIRY = "evidence_expiry"  # the kind of email, in the outbox and its templates
MB = 1024 * 1024
HEAD = 8192  # the bytes read to recognise a file's type

# File types -----------------------------------------------------------------------------------


def _starts_with(magic: bytes) -> Callable[[UploadedFile, bytes], bool]:
    return lambda upload, head: head.startswith(magic)


def _pdf(upload: UploadedFile, head: bytes) -> bool:
    # The header may follow a little junk (ISO 32000-1, 7.5.2; readers look in the first KB).
    return b"%PDF-" in head[:1024]


def _zip_names(upload: UploadedFile) -> list[str] | None:
    """The names in a ZIP archive (read from its directory: nothing is decompressed)."""
    try:
        upload.seek(0)
        with zipfile.ZipFile(upload) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError):
        return None


def _office_open_xml(part: str) -> Callable[[UploadedFile, bytes], bool]:
    """A Word or Excel file: a ZIP with the package's content types and its main part."""

    def check(upload: UploadedFile, head: bytes) -> bool:
        if not head.startswith(b"PK\x03\x04"):
            return False
        names = _zip_names(upload)
        return names is not None and "[Content_Types].xml" in names and part in names

    return check


def _open_document(mimetype: str) -> Callable[[UploadedFile, bytes], bool]:
    """An OpenDocument file: a ZIP whose "mimetype" entry names the document's type."""

    def check(upload: UploadedFile, head: bytes) -> bool:
        if not head.startswith(b"PK\x03\x04"):
            return False
        try:
            upload.seek(0)
            with zipfile.ZipFile(upload) as archive, archive.open("mimetype") as entry:
                return entry.read(200).strip() == mimetype.encode()
        except (KeyError, zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError):
            return False

    return check


# Bytes that no text file has: controls other than tab, line feed, form feed, carriage return.
_NOT_TEXT = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F])


def _text(upload: UploadedFile, head: bytes) -> bool:
    """Plain text (CSV, TXT) in any single-byte or UTF-8 encoding: no control bytes (an
    executable or an archive renamed .txt has plenty)."""
    return len(head.translate(None, _NOT_TEXT)) == len(head)


@dataclass(frozen=True)
class FileType:
    """A kind of file evidence may be: its extensions, the type it is served as, and how its
    first bytes are recognised."""

    key: str
    label: str
    extensions: tuple[str, ...]
    content_type: str
    looks_right: Callable[[UploadedFile, bytes], bool]


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
FILE_TYPES = {
    t.key: t
    for t in [
        FileType("pdf", "PDF", ("pdf",), "application/pdf", _pdf),
        FileType("png", "PNG", ("png",), "image/png", _starts_with(b"\x89PNG\r\n\x1a\n")),
        FileType("jpeg", "JPEG", ("jpg", "jpeg"), "image/jpeg", _starts_with(b"\xff\xd8\xff")),
        FileType("docx", "Word (DOCX)", ("docx",), DOCX, _office_open_xml("word/document.xml")),
        FileType("xlsx", "Excel (XLSX)", ("xlsx",), XLSX, _office_open_xml("xl/workbook.xml")),
        FileType("csv", "CSV", ("csv",), "text/csv", _text),
        FileType("txt", "text (TXT)", ("txt",), "text/plain", _text),
        FileType("odt", "OpenDocument text (ODT)", ("odt",), ODT, _open_document(ODT)),
        FileType("ods", "OpenDocument spreadsheet (ODS)", ("ods",), ODS, _open_document(ODS)),
    ]
}


def accepted_types() -> list[FileType]:
    """The types this installation accepts (EVIDENCE_TYPES), in the table's order."""
    return [t for key, t in FILE_TYPES.items() if key in settings.EVIDENCE_TYPES]


def accepted_words() -> str:
    """What the upload field's help and the refusals say: "PDF, PNG or JPEG"."""
    labels = [t.label for t in accepted_types()]
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} or {labels[-1]}"


def accept_attribute() -> str:
    """The file input's `accept`: the accepted extensions."""
    return ",".join(f".{ext}" for t in accepted_types() for ext in t.extensions)


def size_words(size: int) -> str:
    """20971520 -> "20 MB", 26500000 -> "25.3 MB", 900 -> "900 bytes"."""
    if size < 1024:
        return f"{size} byte{'s' if size != 1 else ''}"
    if size < MB:
        return f"{size / 1024:.0f} KB"
    return f"{round(size / MB, 1):g} MB"


def too_large_message(name: str, size: int | None = None) -> str:
    limit = size_words(settings.EVIDENCE_MAX_BYTES)
    what = f"“{_shown(name)}”" if name else "The file"
    if size is None:  # stopped while it arrived: its full size is unknown
        return f"{what} is larger than {limit}, the most a file may be. Nothing was stored."
    return f"{what} is {size_words(size)}: a file may be at most {limit}. Nothing was stored."


def _shown(name: str) -> str:
    return name if len(name) <= 80 else f"{name[:77]}..."


def evidence_file_check(*, upload: UploadedFile) -> FileType:
    """The file's type if it may be stored; else a ValidationError that says why.

    The extension must be an accepted type's, and the first bytes must be that type's: an
    executable renamed .pdf is refused, and so is a PDF renamed .png.
    """
    name = upload.name or ""
    if not upload.size:
        raise ValidationError(f"“{_shown(name)}” is empty. Nothing was stored.", code="empty")
    if upload.size > settings.EVIDENCE_MAX_BYTES:
        raise ValidationError(too_large_message(name, upload.size), code="too_large")
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    kind = next((t for t in accepted_types() if extension in t.extensions), None)
    if kind is None:
        raise ValidationError(
            f"“{_shown(name)}” cannot be uploaded: accepted files are {accepted_words()}. "
            "Nothing was stored.",
            code="type",
        )
    upload.seek(0)
    head = upload.read(HEAD)
    right = kind.looks_right(upload, head)
    upload.seek(0)
    if not right:
        raise ValidationError(
            f"“{_shown(name)}” is not a {kind.label} file, whatever its name says: its content "
            f"is of another kind. Accepted files are {accepted_words()}. Nothing was stored.",
            code="content",
        )
    return kind


def file_name_clean(name: str) -> str:
    """The uploaded name as it may be offered back for download: its last path part, without
    control characters, at most 255 characters (its extension kept)."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if len(name) > 255:
        stem, dot, extension = name.rpartition(".")
        name = f"{stem[: 254 - len(extension)]}.{extension}" if dot and stem else name[:255]
    return name or "evidence"


# Items a piece can cover ---------------------------------------------------------------------


ITEM_RELATIONS = ["milestone", "system", "obligation"]


def item_group(item: TrackedItem) -> str:
    """Where an item is listed when choosing what a piece covers: its AI system's name, or
    the whole company (a company duty, or a milestone tracked as a whole)."""
    return item.scope_label or WHOLE_COMPANY_LABEL


def item_label(item: TrackedItem, *, scope: bool = False) -> str:
    """An item in a few words: its duty (article and title) and milestone, or the milestone
    alone; with `scope`, whom a duty is for first ("CV screener · Art. 9: ...")."""
    milestone = item.milestone
    when = f" ({milestone.date.day} {milestone.date:%b %Y})" if milestone.date else ""
    label = f"{milestone.title}{when}"
    if item.is_duty:
        label = f"{item.article}: {item.title} · {label}"
    return f"{item.scope_label} · {label}" if scope and item.scope_label else label


def _item_order(item: TrackedItem) -> tuple:
    return (
        item.system_name != "",  # the whole company's first
        item.system_name.casefold(),
        item.milestone.date or dt.date.max,
        item.milestone.key,
        item.obligation.key if item.is_duty else "",
        item.pk,
    )


def _items() -> QuerySet[TrackedItem]:
    return TrackedItem.objects.select_related(*ITEM_RELATIONS)


def items_coverable(*, organisation: Organisation, keep: Iterable[int] = ()) -> list[TrackedItem]:
    """The items a piece may cover, in the order the form lists them: every tracked item, and
    any item it already covers. One query."""
    keep = list(keep)
    rows = _items().filter(organisation=organisation)
    rows = rows.filter(Q(applies=True) | Q(kept_at__isnull=False) | Q(pk__in=keep))
    return sorted(rows, key=_item_order)


def cover_choices(items: list[TrackedItem]) -> list[tuple[str, list[tuple[int, str]]]]:
    """The form's choices, grouped by AI system (the organisation's own duties first)."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for item in items:
        groups.setdefault(item_group(item), []).append((item.pk, item_label(item)))
    return list(groups.items())


# Reads ----------------------------------------------------------------------------------------


def evidence_for(*, organisation: Organisation) -> QuerySet[Evidence]:
    """The organisation's evidence, the soonest to expire first, with their owners and the
    items they cover: two queries however many there are."""
    covered = Prefetch("covers", queryset=_items().order_by("milestone__date", "pk"))
    return (
        organisation.evidence.select_related("owner")
        .prefetch_related(covered)
        .order_by(F("expires_on").asc(nulls_last=True), "title", "pk")
    )


def evidence_get(*, organisation: Organisation, pk: int) -> Evidence:
    """One piece of the organisation's, or 404 (another organisation's piece is not found)."""
    found = evidence_for(organisation=organisation).select_related("added_by").filter(pk=pk)
    piece = found.first()
    if piece is None:
        raise Http404
    return piece


def evidence_for_item(*, item: TrackedItem) -> list[Evidence]:
    """The pieces that cover an item (for its page), with their owners: one query."""
    return list(
        item.evidence.select_related("owner").order_by(
            F("expires_on").asc(nulls_last=True), "title", "pk"
        )
    )


def expiry_words(piece: Evidence, today: dt.date) -> str:
    """The expiry in words: "expired", "expires today", "expires in 12 days", or ""."""
    days = piece.days_left(today)
    if days is None:
        return ""
    if days < 0:
        return "expired"
    if days == 0:
        return "expires today"
    return f"expires in {days} day{'s' if days != 1 else ''}"


@dataclass(frozen=True)
class EvidenceChange:
    """One field of one history record: its label, and the old and new values in words."""

    label: str
    old: str
    new: str


@dataclass(frozen=True)
class EvidenceEntry:
    """One change of a piece: when, by whom (None: Jalon itself), what kind, what changed."""

    when: dt.datetime
    user: object
    kind: str  # "added", "changed", "deleted"
    note: str
    changes: list[EvidenceChange]


HISTORY_FIELDS = [("title", "Title"), ("file_name", "File"), ("link", "Link"),
                  ("expires_on", "Expires on"), ("owner_id", "Owner")]  # fmt: skip
HISTORY_KINDS = {"+": "added", "~": "changed", "-": "deleted"}


def evidence_history(*, piece: Evidence, limit: int = 20) -> list[EvidenceEntry]:
    """The latest changes of a piece, newest first, each with what it changed (the items it
    covers included). Four queries however long the history: the records with their authors,
    what each covered, the items and the people they name."""
    rows = list(
        piece.history.select_related("history_user").order_by("-history_date", "-history_id")[
            : limit + 1
        ]
    )
    covered: dict[int, list[int]] = {row.pk: [] for row in rows}
    snapshots = EVIDENCE_HISTORY.m2m_models[Evidence._meta.get_field("covers")].objects
    for history_id, item_id in snapshots.filter(history_id__in=list(covered)).values_list(
        "history_id", "trackeditem_id"
    ):
        covered[history_id].append(item_id)
    covered = {pk: sorted(ids) for pk, ids in covered.items()}
    item_ids = {pk for ids in covered.values() for pk in ids}
    labels = {item.pk: item_label(item, scope=True) for item in _items().filter(pk__in=item_ids)}
    owner_ids = {row.owner_id for row in rows if row.owner_id}
    users = {u.pk: u.get_username() for u in get_user_model().objects.filter(pk__in=owner_ids)}

    def words(field: str, value) -> str:
        if value in (None, "", []):
            return "—"
        if field == "owner_id":
            return users.get(value, f"a former account (#{value})")
        if field == "covers":
            return "; ".join(labels.get(pk, f"a removed item (#{pk})") for pk in value)
        if isinstance(value, dt.date):
            return f"{value.day} {value:%B %Y}"
        return str(value)

    entries = []
    for index, row in enumerate(rows[:limit]):
        older = rows[index + 1] if index + 1 < len(rows) else None
        values = {field: getattr(row, field) for field, _ in HISTORY_FIELDS}
        values["covers"] = covered[row.pk]
        before = {field: getattr(older, field) for field, _ in HISTORY_FIELDS} if older else {}
        if older is not None:
            before["covers"] = covered[older.pk]
        changes = [
            EvidenceChange(label, words(field, before.get(field)), words(field, values[field]))
            for field, label in [*HISTORY_FIELDS, ("covers", "Covers")]
            if row.history_type != "-" and before.get(field) != values[field]
            and not (older is None and values[field] in (None, "", []))
        ]  # fmt: skip
        entries.append(EvidenceEntry(row.history_date, row.history_user,
                                     HISTORY_KINDS.get(row.history_type, "changed"),
                                     row.history_change_reason or "", changes))  # fmt: skip
    return entries


# Writes ---------------------------------------------------------------------------------------


def _covered(organisation: Organisation, covers: Iterable) -> list[TrackedItem]:
    """The items, all of this organisation's: an item of another one is refused."""
    ids = {getattr(item, "pk", item) for item in covers}
    items = list(TrackedItem.objects.filter(pk__in=ids, organisation=organisation))
    if len(items) != len(ids):
        raise ValidationError(
            {"covers": "A piece of evidence covers only this organisation's tracked items."}
        )
    if not items:
        raise ValidationError({"covers": "Choose at least one item this evidence covers."})
    return items


def _owner_check(organisation: Organisation, owner, previous_id: int | None) -> None:
    if owner is None or owner.pk == previous_id:
        return  # an owner who left stays named until someone changes it
    if not Membership.objects.filter(organisation=organisation, user=owner).exists():
        raise ValidationError({"owner": "The owner must be a member of the organisation."})


def _file_fields(piece: Evidence, upload: UploadedFile) -> FileType:
    """Check the upload and describe it on the piece (nothing stored yet)."""
    try:
        kind = evidence_file_check(upload=upload)
    except ValidationError as exc:
        raise ValidationError({"file": exc.messages}) from None
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    piece.file_name = file_name_clean(upload.name)
    piece.file_size = upload.size
    piece.content_type = kind.content_type
    piece.sha256 = digest.hexdigest()
    upload.content_type = kind.content_type  # what an S3 store records, not the browser's word
    return kind


def _clean(piece: Evidence) -> None:
    """The fields' own rules (title, link, expiry date), under the form's field names (the
    file-or-link rule is the caller's: the file is not stored yet)."""
    piece.title = (piece.title or "").strip()
    piece.clean_fields(exclude=["file", "organisation", "owner", "added_by"])


def _validate(
    piece: Evidence, *, upload: UploadedFile | None, covers: Iterable, previous_owner_id
) -> list[TrackedItem]:
    """Every rule at once, so that the form shows every problem: the row's fields, the owner,
    the file, the items covered. The items, or a ValidationError by field."""
    errors: dict[str, list[str]] = {}

    def gather(check: Callable[[], object]) -> object:
        try:
            return check()
        except ValidationError as exc:
            found = exc.error_dict if hasattr(exc, "error_dict") else {"__all__": exc.error_list}
            for field, problems in found.items():
                errors.setdefault(field, []).extend(ValidationError(problems).messages)
            return None

    gather(lambda: _clean(piece))
    if (bool(piece.file) or upload is not None) == bool(piece.link):
        field = "link" if not piece.file and upload is None else NON_FIELD_ERRORS
        errors.setdefault(field, []).append(
            "Enter the link." if field == "link" else "A piece is a file or a link, not both."
        )
    gather(lambda: _owner_check(piece.organisation, piece.owner, previous_owner_id))
    if upload is not None:
        gather(lambda: _file_fields(piece, upload))
    items = gather(lambda: _covered(piece.organisation, covers)) or []
    if errors:
        raise ValidationError(errors)
    return items


@contextmanager
def _unrecorded(piece: Evidence):
    """Writes simple-history does not record on its own (see `_record`)."""
    piece.skip_history_when_saving = True
    try:
        yield
    finally:
        del piece.skip_history_when_saving


def _record(piece: Evidence, by: AbstractBaseUser | None, history_type: str) -> None:
    """One history record per change: the piece as saved, with what it covers."""
    piece._history_user = by
    EVIDENCE_HISTORY.create_historical_record(piece, history_type)


def _store(piece: Evidence, upload: UploadedFile, write: Callable[[], None]) -> None:
    """Store the file, then run the database writes; if they fail, remove the file again."""
    piece.file.save(piece.file_name, upload, save=False)
    stored = piece.file.name
    try:
        with transaction.atomic():
            write()
    except BaseException:
        piece.file.storage.delete(stored)
        raise


def _delete_after_commit(storage, name: str) -> None:
    """Remove a stored file once the transaction that dropped its row has committed."""

    def delete() -> None:
        try:
            storage.delete(name)
        except Exception:  # the row is gone either way: leave a trace for whoever cleans up
            log.warning("evidence file %s could not be deleted", name, exc_info=True)

    transaction.on_commit(delete)


def evidence_create(
    *, organisation: Organisation, by: AbstractBaseUser | None, title: str,
    covers: Iterable, upload: UploadedFile | None = None, link: str = "",
    expires_on: dt.date | None = None, owner: AbstractBaseUser | None = None,
) -> Evidence:  # fmt: skip
    """A new piece, a file or a link, covering some of the organisation's items.

    Everything is checked before anything is stored: a refused file leaves no row and no file.
    """
    link = (link or "").strip()
    if (upload is None) == (not link):
        raise ValidationError("A piece of evidence is either an uploaded file or a link.")
    piece = Evidence(
        organisation=organisation, title=title, link=link, expires_on=expires_on, owner=owner,
        added_by=by, expiry_set_at=timezone.now() if expires_on else None,
    )  # fmt: skip
    items = _validate(piece, upload=upload, covers=covers, previous_owner_id=None)

    def write() -> None:
        with _unrecorded(piece):
            piece.save()
            piece.covers.set(items)
        _record(piece, by, "+")

    if upload is None:
        with transaction.atomic():
            write()
    else:
        _store(piece, upload, write)
    return piece


EDITABLE = ("title", "link", "expires_on", "owner")


def evidence_update(
    *, evidence: Evidence, by: AbstractBaseUser | None, title: str, covers: Iterable,
    expires_on: dt.date | None, owner: AbstractBaseUser | None, link: str | None = None,
    upload: UploadedFile | None = None,
) -> Evidence:  # fmt: skip
    """Change a piece: its title, expiry, owner and what it covers; a link piece's address; a
    file piece's file (the old one is deleted once the change has committed). A new expiry
    date starts its reminders afresh. Saving what is already there writes nothing."""
    saved = Evidence.objects.get(pk=evidence.pk)
    piece = evidence
    piece.title, piece.expires_on, piece.owner = title, expires_on, owner
    if link is not None:
        if not saved.link:
            raise ValidationError({"link": "This piece is a file: upload a new file instead."})
        piece.link = link.strip()
    if upload is not None and not saved.file:
        raise ValidationError({"file": "This piece is a link: change its address instead."})
    items = _validate(piece, upload=upload, covers=covers, previous_owner_id=saved.owner_id)
    if piece.expires_on != saved.expires_on:
        piece.expiry_set_at = timezone.now() if piece.expires_on else None
    same_row = upload is None and all(
        getattr(saved, piece._meta.get_field(name).attname)
        == getattr(piece, piece._meta.get_field(name).attname)
        for name in EDITABLE
    )
    same_items = {item.pk for item in items} == set(saved.covers.values_list("pk", flat=True))
    if same_row and same_items:
        return piece
    old_file = saved.file.name if upload is not None else ""

    def write() -> None:
        with _unrecorded(piece):
            if not same_row:
                piece.save()
            if not same_items:
                piece.covers.set(items)
        _record(piece, by, "~")
        if old_file:
            _delete_after_commit(piece.file.storage, old_file)

    if upload is None:
        with transaction.atomic():
            write()
    else:
        _store(piece, upload, write)
    return piece


def evidence_delete(*, evidence: Evidence, by: AbstractBaseUser | None) -> None:
    """Delete a piece; its stored file goes once the deletion has committed (a rollback keeps
    both). Its history keeps who deleted it and when."""
    stored, storage = evidence.file.name, evidence.file.storage
    evidence._history_user = by
    with transaction.atomic():
        evidence.delete()
        if stored:
            _delete_after_commit(storage, stored)


def evidence_files_drop_on_commit(*, organisation: Organisation) -> None:
    """The organisation's stored files go once the deletion that drops their rows commits
    (one query; a rollback keeps them). Call inside that deletion's transaction."""
    storage = Evidence._meta.get_field("file").storage
    names = organisation.evidence.exclude(file="").values_list("file", flat=True)
    for name in names:
        _delete_after_commit(storage, name)


def evidence_open(*, evidence: Evidence):
    """The stored file, open for reading; Http404 if the store no longer has it."""
    storage, name = evidence.file.storage, evidence.file.name
    if not name or not storage.exists(name):
        log.warning("evidence file %s of piece %s is missing from the store", name, evidence.pk)
        raise Http404("The file is missing from the store.")
    return storage.open(name, "rb")


# Expiry reminders -----------------------------------------------------------------------------


def _organisation_owners(organisation_ids: set[int]) -> dict[int, list]:
    """The owners (users, with their address's verification) of each organisation: one query."""
    owners: dict[int, list] = {}
    memberships = (
        Membership.objects.filter(organisation_id__in=organisation_ids, role=Membership.Role.OWNER)
        .select_related("user__email_verification")
        .order_by("organisation_id", "pk")
    )
    for membership in memberships:
        owners.setdefault(membership.organisation_id, []).append(membership.user)
    return owners


def _stopped(organisation_ids: set[int]) -> set[tuple[int, int]]:
    """(organisation, person) pairs who stopped these emails from their link: one query, or
    none while the settings page has no switch for them (mail_settings.STOPPABLE)."""
    field = mail_settings.STOPPABLE.get(EVIDENCE_EXPIRY)
    if field is None:
        return set()
    return set(
        OwnerReminders.objects.filter(
            organisation_id__in=organisation_ids, **{field: False}
        ).values_list("organisation_id", "user_id")
    )


def expiry_recipients(piece: Evidence, owners: dict[int, list]) -> list:
    """Who is reminded: the piece's owner while a member, else the organisation's owners;
    only verified addresses."""
    if piece.owner_id is not None and getattr(piece, "owner_is_member", True):
        people = [piece.owner]
    else:
        people = owners.get(piece.organisation_id, [])
    return [person for person in people if email_verified(person)]


def expiry_lead_due(piece: Evidence, timing: PersonalSettings, now: dt.datetime) -> int | None:
    """The lead time whose reminder is due now, or None.

    A lead time's reminder is due from its day (so many days before the expiry date), at the
    person's local hour, until the expiry date has passed; when several are due (a sweep that
    did not run for a while) only the nearest is sent. A lead time whose day had already
    passed when the expiry date was set is not sent, as the reminder engine does for owners.
    """
    if not timing.enabled or piece.expires_on is None:
        return None
    zone = ZoneInfo(timing.timezone)
    local = now.astimezone(zone)
    if local.date() > piece.expires_on:
        return None
    set_on = piece.expiry_set_at.astimezone(zone).date() if piece.expiry_set_at else None
    for lead in sorted(timing.lead_days):
        day = piece.expires_on - dt.timedelta(days=lead)
        if set_on is not None and day < set_on:
            continue
        if local.date() > day or (local.date() == day and local.hour >= timing.send_hour):
            return lead
    return None


def _expiry_key(piece: Evidence, lead: int | str, person) -> str:
    return f"evidence-expiry:{piece.pk}:{piece.expires_on}:{lead}:u{person.pk}"


def _expiry_message(piece: Evidence, person, lead: int, timing: PersonalSettings, now: dt.datetime):
    days = (piece.expires_on - now.astimezone(ZoneInfo(timing.timezone)).date()).days
    organisation = piece.organisation
    stoppable = EVIDENCE_EXPIRY in mail_settings.STOPPABLE
    context = {
        "piece": piece,
        "organisation": organisation,
        "recipient": person,
        "owns_it": person.pk == piece.owner_id,
        "days": days,
        "covers": [item_label(item, scope=True) for item in piece.covers.all()],
        "url": settings.SITE_URL
        + reverse("workspace:evidence_edit", kwargs={"slug": organisation.slug, "pk": piece.pk}),
        "settings_url": mail_settings.settings_url(organisation),
    }
    stop = (
        {"user_id": person.pk, "organisation_id": organisation.pk, "organisation": organisation}
        if stoppable
        else None
    )
    return workspace_message(
        EVIDENCE_EXPIRY, to_email=person.email, key=_expiry_key(piece, lead, person),
        context=context, now=now, stop=stop, topic=f"evidence:{piece.pk}",
    )  # fmt: skip


def evidence_expiry_reminders(*, now: dt.datetime) -> int:
    """Remind the owners of pieces about to expire (see the module's docstring); the number
    of emails queued. Run every hour, so that each person's own hour is kept; running it again
    queues nothing twice. A piece that cannot be written fails alone, recorded as a failed
    message the admin sees."""
    today = now.astimezone(dt.UTC).date()
    window = (today - dt.timedelta(days=1), today + dt.timedelta(days=MAX_LEAD_DAYS + 1))
    member = Membership.objects.filter(
        organisation_id=OuterRef("organisation_id"), user_id=OuterRef("owner_id")
    )
    pieces = list(
        Evidence.objects.filter(expires_on__range=window)
        .annotate(owner_is_member=Exists(member))
        .select_related("organisation", "owner__email_verification")
        .prefetch_related(Prefetch("covers", queryset=_items().order_by("milestone__date", "pk")))
        .order_by("pk")
    )
    organisation_ids = {piece.organisation_id for piece in pieces}
    owners = _organisation_owners(organisation_ids)
    stopped = _stopped(organisation_ids)
    timings: dict[tuple[int, int], PersonalSettings] = {}
    messages = []
    for piece in pieces:
        for person in expiry_recipients(piece, owners):
            pair = (piece.organisation_id, person.pk)
            if pair in stopped:
                continue
            lead = None
            try:
                if pair not in timings:
                    key = mail_settings.owner_key(organisation_id=pair[0], user_id=pair[1])
                    timings[pair] = personal_settings(key=key)
                lead = expiry_lead_due(piece, timings[pair], now)
                if lead is None:
                    continue
                messages.append(_expiry_message(piece, person, lead, timings[pair], now))
            except Exception as exc:  # one piece fails alone, where the admin sees it
                outbox.failure_record(
                    to=person.email, kind=EVIDENCE_EXPIRY, error=exc,
                    dedupe_key=_expiry_key(piece, lead if lead is not None else f"x{today}",
                                           person),
                    what=f"evidence #{piece.pk} expiry reminder ({piece.organisation.name})",
                    topic=f"evidence:{piece.pk}",
                )  # fmt: skip
    return len(outbox.send_many(messages, dispatch=False))


def members_for(*, organisation: Organisation, keep: AbstractBaseUser | None = None) -> QuerySet:
    """The people a piece may be given to: the members (and its owner, if they left)."""
    users = get_user_model().objects.filter(memberships__organisation=organisation)
    if keep is not None:
        users = users | get_user_model().objects.filter(pk=keep.pk)
    return users.distinct().order_by("username")
