"""Evidence pages: the organisation's list, add, change, delete, and the file download.

Every page finds the piece through the member's own organisation, so another organisation's
piece is a 404 like a piece that does not exist. Viewers read; editors and owners write. Files
are never served from a public URL: `evidence_file` streams one to a member, as an attachment.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from tracker.workspace.evidence import (
    evidence_create,
    evidence_delete,
    evidence_for,
    evidence_get,
    evidence_history,
    evidence_open,
    evidence_update,
    expiry_words,
    item_label,
    items_coverable,
    members_for,
)
from tracker.workspace.evidence_forms import EvidenceForm
from tracker.workspace.models import Evidence
from tracker.workspace.selectors import editor_required, membership_get


class UploadLimit(FileUploadHandler):
    """Stops reading an uploaded file as soon as it passes EVIDENCE_MAX_BYTES: the rest of it
    is skipped unread into any temporary file, and the form says it was too large."""

    def __init__(self, request=None):
        super().__init__(request)
        self.limit = settings.EVIDENCE_MAX_BYTES
        self.received = 0
        self.too_large: str | None = None

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_large = self.file_name or ""
            raise SkipFile
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler (memory or temporary file) makes the file


def _limited(view):
    """Install the upload limit before the body is read. CSRF is checked inside, by
    `csrf_protect` on the view itself: the middleware's check would read the body first."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        limit = UploadLimit(request)
        request.upload_handlers.insert(0, limit)
        return view(request, *args, limit=limit, **kwargs)

    return csrf_exempt(wrapped)


def _covered_rows(piece: Evidence) -> list[dict]:
    return [{"item": item, "label": item_label(item, scope=True)} for item in piece.covers.all()]


def _add_errors(form: EvidenceForm, exc: ValidationError) -> None:
    """A service's refusal, onto the form's fields (or the whole form)."""
    for field, errors in getattr(exc, "error_dict", {None: exc.error_list}).items():
        form.add_error(field if field in form.fields else None, errors)


@login_required
@require_GET
def evidence_list(request, slug):
    """The organisation's evidence: what each piece is, when it lapses, what it covers."""
    membership = membership_get(user=request.user, slug=slug)
    org = membership.organisation
    today = timezone.localdate()
    rows = [
        {
            "piece": piece,
            "expiry": expiry_words(piece, today),
            "expired": piece.expires_on is not None and piece.expires_on < today,
            "covers": _covered_rows(piece),
        }
        for piece in evidence_for(organisation=org)
    ]
    context = {"membership": membership, "org": org, "rows": rows}
    return render(request, "workspace/evidence/list.html", context)


def _item_hint(request, org) -> list[int]:
    """The item an "Add evidence" link came from (?item=<pk>), ticked in advance."""
    value = request.GET.get("item", "")
    if not value.isdigit():
        return []
    return list(org.items.filter(pk=int(value)).values_list("pk", flat=True))


@_limited
@csrf_protect
@login_required
@require_http_methods(["GET", "POST"])
def evidence_add(request, slug, limit: UploadLimit):
    """Add a piece: upload a file or give a link, and choose the items it covers."""
    membership = membership_get(user=request.user, slug=slug)
    editor_required(membership)
    org = membership.organisation
    form = EvidenceForm(
        request.POST or None, request.FILES or None, items=items_coverable(organisation=org),
        members=members_for(organisation=org), too_large=limit.too_large,
        initial={"covers": _item_hint(request, org), "owner": request.user},
    )  # fmt: skip
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            piece = evidence_create(
                organisation=org, by=request.user, title=data["title"], covers=data["covers"],
                upload=data.get("file") or None, link=data.get("link", ""),
                expires_on=data["expires_on"], owner=data["owner"],
            )  # fmt: skip
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            return redirect(f"{_list_url(slug)}#evidence-{piece.pk}")
    context = {"membership": membership, "org": org, "form": form, "piece": None}
    return render(request, "workspace/evidence/form.html", context,
                  status=400 if form.errors else 200)  # fmt: skip


@_limited
@csrf_protect
@login_required
@require_http_methods(["GET", "POST"])
def evidence_edit(request, slug, pk, limit: UploadLimit):
    """One piece: its details and history for every member, the form for editors."""
    membership = membership_get(user=request.user, slug=slug)
    org = membership.organisation
    piece = evidence_get(organisation=org, pk=pk)
    if request.method == "POST":
        editor_required(membership)
    covered = [item.pk for item in piece.covers.all()]
    initial = {"title": piece.title, "link": piece.link, "expires_on": piece.expires_on,
               "owner": piece.owner, "covers": covered}  # fmt: skip
    form = EvidenceForm(
        request.POST or None, request.FILES or None, instance=piece, initial=initial,
        items=items_coverable(organisation=org, keep=covered),
        members=members_for(organisation=org, keep=piece.owner), too_large=limit.too_large,
    )  # fmt: skip
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            evidence_update(
                evidence=piece, by=request.user, title=data["title"], covers=data["covers"],
                expires_on=data["expires_on"], owner=data["owner"],
                link=data["link"] if "link" in form.fields else None,
                upload=data.get("file") or None,
            )  # fmt: skip
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            return redirect(f"{_list_url(slug)}#evidence-{piece.pk}")
    today = timezone.localdate()
    context = {
        "membership": membership, "org": org, "form": form, "piece": piece,
        "covers": _covered_rows(piece), "expiry": expiry_words(piece, today),
        "history": evidence_history(piece=piece),
    }  # fmt: skip
    return render(request, "workspace/evidence/form.html", context,
                  status=400 if form.errors else 200)  # fmt: skip


@login_required
@require_http_methods(["GET", "POST"])
def evidence_delete_view(request, slug, pk):
    """Ask, then delete a piece (and, once that has committed, its stored file)."""
    membership = membership_get(user=request.user, slug=slug)
    editor_required(membership)
    org = membership.organisation
    piece = evidence_get(organisation=org, pk=pk)
    if request.method == "POST":
        evidence_delete(evidence=piece, by=request.user)
        return redirect(_list_url(slug))
    context = {"membership": membership, "org": org, "piece": piece,
               "covers": _covered_rows(piece)}  # fmt: skip
    return render(request, "workspace/evidence/delete.html", context)


@require_GET
def evidence_file(request, slug, pk):
    """The file, to a member of its organisation only (anyone else: 404, signed in or not),
    as an attachment of the type recognised at upload, never sniffed into another."""
    membership = membership_get(user=request.user, slug=slug)
    piece = evidence_get(organisation=membership.organisation, pk=pk)
    if not piece.is_file:
        raise Http404
    response = FileResponse(
        evidence_open(evidence=piece), as_attachment=True, filename=piece.file_name,
        content_type=piece.content_type or "application/octet-stream",
    )  # fmt: skip
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"  # no shared cache keeps a copy
    return response


def _list_url(slug: str) -> str:
    return reverse("workspace:evidence_list", kwargs={"slug": slug})
