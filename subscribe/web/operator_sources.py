"""Operators' source pages: the list, add/edit/enable/delete, harvest history, harvest now."""

from __future__ import annotations

import json

import marshmallow as ma
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from subscribe.catalog import services as catalog
from subscribe.catalog.models import SOURCE_TYPES
from subscribe.catalog.preview import preview_source
from subscribe.catalog.schemas import SourceCreateSchema, SourceUpdateSchema
from subscribe.errors import ConflictError, InvalidInputError
from subscribe.web.access import operator_required, safe_next
from subscribe.web.paging import page_arg, page_count

blp = Blueprint("sources", __name__, url_prefix="/sources")

RUNS_PER_PAGE = 10
FORM_FIELDS = ("name", "type", "url", "mapping", "schedule")
# Shown instead of marshmallow's English messages, per field.
FIELD_ERRORS = {
    "name": _l("Use 1 to 100 letters, digits, '.', '-' or '_'."),
    "type": _l("Choose CKAN, DCAT or tabular."),
    "url": _l("Enter an http:// or https:// address (at most 2000 characters)."),
    "mapping": _l('Enter a JSON object, e.g. {"id_column": "目录编号"}, or leave it empty.'),
    "schedule": _l("Enter whole seconds between 10 and 2592000 (30 days), or leave it empty."),
}


def _form_values() -> dict[str, str]:
    return {name: request.form.get(name, "").strip() for name in FORM_FIELDS}


def _parse(form: dict[str, str], schema: ma.Schema,
           current: str | None = None) -> tuple[dict, dict[str, str]]:  # fmt: skip
    """The form through the API's schema: (the body, {field: message}); a URL other than
    `current` (the source's own) is vetted as the API does (catalog.check_source_url)."""
    raw: dict = {name: form[name] for name in ("name", "type", "url")}
    errors: dict[str, str] = {}
    if form["schedule"]:
        raw["schedule"] = form["schedule"]
    if form["mapping"]:
        try:
            raw["mapping"] = json.loads(form["mapping"])
        except ValueError:
            errors["mapping"] = str(FIELD_ERRORS["mapping"])
    else:
        raw["mapping"] = {}
    try:
        body = schema.load(raw)
    except ma.ValidationError as error:
        body = {}
        errors.update({name: str(FIELD_ERRORS.get(name, _("This value is not valid.")))
                       for name in error.messages})  # fmt: skip
    if body.get("url") and (current is None or body["url"] != current):
        try:
            catalog.check_source_url(body["url"])
        except InvalidInputError as error:
            # The webhook form's words (web/webhooks.py), the guard's reason as detail.
            errors["url"] = _("This address reaches an internal network (private, loopback or "
                              "link-local) and is refused unless an operator allows it in "
                              "SUBSCRIBE_OUTBOUND_ALLOWLIST. Detail: %(reason)s",
                              reason="; ".join(error.errors["url"]))  # fmt: skip
    return body, errors


def _empty_form() -> dict[str, str]:
    return {"name": "", "type": "ckan", "url": "", "mapping": "", "schedule": ""}


def _form_of(source) -> dict[str, str]:
    mapping = json.dumps(source.mapping, ensure_ascii=False, indent=2) if source.mapping else ""
    return {"name": source.name, "type": source.type, "url": source.url, "mapping": mapping,
            "schedule": str(source.schedule)}  # fmt: skip


def source_rows() -> list[dict]:
    """Every source with its dataset count and last harvest (the sources table)."""
    return [
        {"source": source, "datasets": catalog.dataset_count(source),
         "last_run": catalog.last_run(source)}
        for source in catalog.list_sources()
    ]  # fmt: skip


def _render_list(form: dict[str, str], errors: dict[str, str], status: int = 200):
    page = render_template("operators/sources.html", sources=source_rows(), form=form,
                           errors=errors, source_types=SOURCE_TYPES)  # fmt: skip
    return page, status


def _render_source(source, form: dict[str, str], errors: dict[str, str], status: int = 200):
    runs = catalog.list_runs(source, page_arg(), RUNS_PER_PAGE)
    body = render_template(
        "operators/source.html",
        source=source,
        datasets=catalog.dataset_count(source),
        mapping_report=catalog.last_mapping_report(source),
        runs=runs,
        pages=page_count(runs["total"], RUNS_PER_PAGE),
        page_url=lambda number: url_for(
            "web.operators.sources.detail", source_id=source.id, page=number, _anchor="runs"
        ),
        form=form,
        errors=errors,
        source_types=SOURCE_TYPES,
    )
    return body, status


@blp.get("")
@operator_required
def index():
    return _render_list(_empty_form(), {})


@blp.post("")
@operator_required
def create():
    form = _form_values()
    body, errors = _parse(form, SourceCreateSchema())
    if not errors:
        try:
            source = catalog.create_source(**body)
        except ConflictError:
            errors["name"] = _("A source with this name already exists.")
    if errors:
        return _render_list(form, errors, 422)
    flash(_("Source %(name)s is added. Harvest it now or wait for its schedule.",
            name=source.name), "success")  # fmt: skip
    return redirect(url_for("web.operators.sources.detail", source_id=source.id))


@blp.get("/<int:source_id>")
@operator_required
def detail(source_id: int):
    source = catalog.get_source(source_id)
    return _render_source(source, _form_of(source), {})


@blp.post("/<int:source_id>")
@operator_required
def update(source_id: int):
    source = catalog.get_source(source_id)
    form = _form_values()
    body, errors = _parse(form, SourceUpdateSchema(), current=source.url)
    if not errors:
        try:
            catalog.update_source(source, body)
        except ConflictError:
            errors["name"] = _("A source with this name already exists.")
    if errors:
        return _render_source(source, form, errors, 422)
    flash(_("Source %(name)s is saved.", name=source.name), "success")
    return redirect(url_for("web.operators.sources.detail", source_id=source.id))


@blp.post("/<int:source_id>/enabled")
@operator_required
def set_enabled(source_id: int):
    source = catalog.get_source(source_id)
    enabled = request.form.get("enabled") == "1"
    catalog.update_source(source, {"enabled": enabled})
    if enabled:
        flash(_("Source %(name)s is enabled: it is harvested on its schedule.", name=source.name),
              "success")  # fmt: skip
    else:
        flash(_("Source %(name)s is disabled: no scheduled harvests until you enable it.",
                name=source.name), "success")  # fmt: skip
    return redirect(safe_next(request.form.get("next"),
                              url_for("web.operators.sources.detail", source_id=source.id)))  # fmt: skip


@blp.post("/<int:source_id>/harvest")
@operator_required
def harvest(source_id: int):
    source = catalog.get_source(source_id)
    before = catalog.last_run(source)
    run = catalog.queue_harvest(source)
    if before is not None and before.id == run.id:  # the service hands back the waiting run
        flash(_("A harvest of %(name)s is already queued or running.", name=source.name), "info")
    else:
        flash(_("A harvest of %(name)s is queued: a worker starts it within a few seconds.",
                name=source.name), "success")  # fmt: skip
    default = url_for("web.operators.sources.detail", source_id=source.id, _anchor="runs")
    return redirect(safe_next(request.form.get("next"), default))


@blp.get("/<int:source_id>/preview")
@operator_required
def preview(source_id: int):
    """Dry run: the source read now, its columns mapped and first rows shown; no writes."""
    source = catalog.get_source(source_id)
    try:
        result, error = preview_source(source, rows=10), None
    except InvalidInputError as exc:
        result, error = None, exc.message
    return render_template("operators/preview.html", source=source, result=result, error=error)


@blp.route("/<int:source_id>/delete", methods=["GET", "POST"])
@operator_required
def delete(source_id: int):
    """GET asks for confirmation (no script needed); POST deletes."""
    source = catalog.get_source(source_id)
    if request.method == "GET":
        return render_template("operators/delete_source.html", source=source,
                               datasets=catalog.dataset_count(source))  # fmt: skip
    name = source.name
    catalog.delete_source(source)
    flash(_("Source %(name)s and its datasets are deleted.", name=name), "success")
    return redirect(url_for("web.operators.sources.index"))
