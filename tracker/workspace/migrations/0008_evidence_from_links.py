# Each item's evidence links become evidence pieces (issue 11). The old field stays until a
# later migration removes it, so this one can be run again: it skips what it already made.

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import migrations
from django.utils import timezone

TITLE_MAX = 200
URL_MAX = 500
REASON = "From the item's evidence links"
NOT_A_LINK = "Noted as evidence before evidence pieces existed (not a link): "


def _title(url: str) -> str:
    """The link's host and path: "docs.example.org/risk/plan.pdf"."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or parts.netloc
    if parts.port:
        host = f"{host}:{parts.port}"
    title = host + (parts.path.rstrip("/") if parts.path not in ("", "/") else "")
    return title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1] + "…"


def _is_link(value) -> bool:
    if not isinstance(value, str) or len(value) > URL_MAX:
        return False
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        return False
    return True


def links_to_pieces(apps, schema_editor):
    TrackedItem = apps.get_model("workspace", "TrackedItem")
    Evidence = apps.get_model("workspace", "Evidence")
    Covers = Evidence.covers.through
    History = apps.get_model("workspace", "HistoricalEvidence")
    HistoryCovers = apps.get_model("workspace", "HistoricalEvidence_covers")
    now = timezone.now()
    items = TrackedItem.objects.only("id", "organisation_id", "evidence_links", "notes")
    for item in items.order_by("pk").iterator(chunk_size=1000):
        links = item.evidence_links if isinstance(item.evidence_links, list) else []
        seen, kept_as_notes = set(), []
        for value in links:
            if value in seen:
                continue
            seen.add(value)
            if not _is_link(value):
                # Not a link (written before links were checked): kept in the item's notes.
                if isinstance(value, str) and value.strip():
                    kept_as_notes.append(value.strip())
                continue
            if Covers.objects.filter(trackeditem_id=item.pk, evidence__link=value).exists():
                continue  # made by an earlier run
            piece = Evidence.objects.create(
                organisation_id=item.organisation_id, title=_title(value), link=value
            )
            cover = Covers.objects.create(evidence_id=piece.pk, trackeditem_id=item.pk)
            record = History.objects.create(
                id=piece.pk, organisation_id=piece.organisation_id, title=piece.title,
                file="", file_name="", content_type="", sha256="", link=value,
                created_at=piece.created_at, updated_at=piece.updated_at,
                history_date=now, history_type="+", history_change_reason=REASON,
            )  # fmt: skip
            HistoryCovers.objects.create(
                id=cover.pk, history=record, evidence_id=piece.pk, trackeditem_id=item.pk
            )
        notes = [line for line in kept_as_notes if NOT_A_LINK + line not in item.notes]
        if notes:
            lines = [item.notes.rstrip()] if item.notes.strip() else []
            item.notes = "\n".join(lines + [NOT_A_LINK + line for line in notes])
            item.save(update_fields=["notes"])


class Migration(migrations.Migration):
    dependencies = [
        ("workspace", "0007_evidence"),
    ]

    operations = [
        # Going back leaves the pieces: the migration before drops their table anyway.
        migrations.RunPython(links_to_pieces, migrations.RunPython.noop),
    ]
