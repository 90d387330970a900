"""Operators' pages: the jobs dashboard (leader, jobs, delivery queue, sources) and job runs."""

from __future__ import annotations

import re

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from subscribe.errors import ConflictError
from subscribe.jobs import services as jobs
from subscribe.web import operator_sources
from subscribe.web.access import operator_required, safe_next
from subscribe.web.paging import page_arg, page_count

blp = Blueprint("operators", __name__, url_prefix="/operators")
blp.register_blueprint(operator_sources.blp)

RUNS_PER_PAGE = 20
# The dashboard's script reloads the live parts this often (0 turns it off).
REFRESH_SECONDS = 10


def error_summary(error: str | None) -> str:
    """A traceback's last line (the exception and its message): enough for a table."""
    lines = [line for line in (error or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def duration(milliseconds: int | None) -> str:
    if milliseconds is None:
        return "—"
    if milliseconds < 1000:
        return _("%(ms)s ms", ms=milliseconds)
    seconds = milliseconds / 1000
    if seconds < 120:
        return _("%(seconds).1f s", seconds=seconds)
    return _("%(minutes)d min %(seconds)d s", minutes=seconds // 60, seconds=seconds % 60)


EVERY = (
    (86400, _l("every day"), _l("every %(num)s days")),
    (3600, _l("every hour"), _l("every %(num)s hours")),
    (60, _l("every minute"), _l("every %(num)s minutes")),
)


def every(seconds: float | int | str) -> str:
    """An interval as people say it: "每小时", "每 10 分钟", "每 2 天" (not "每 3600 秒")."""
    seconds = float(seconds)
    for unit, one, many in EVERY:
        if seconds >= unit and seconds % unit == 0:
            count = int(seconds // unit)
            return str(one) if count == 1 else str(many) % {"num": count}
    return _("every %(seconds)s s", seconds=f"{seconds:g}")


def schedule_text(schedule: str) -> str:
    """The runner writes schedules as "every 600s"; people read them in their language."""
    match = re.fullmatch(r"every (\d+(?:\.\d+)?)s", schedule or "")
    return every(match.group(1)) if match else schedule


def age(seconds: float | None) -> str:
    return format_timedelta(seconds or 0, threshold=1.1) if seconds else "—"


@blp.context_processor
def _helpers() -> dict:
    # Only for this group's templates (and the sources pages under it).
    return {"error_summary": error_summary, "duration": duration,
            "schedule_text": schedule_text, "every": every, "age": age}  # fmt: skip


def _back(default_endpoint: str, **values) -> str:
    """Where a button's form came from (its `next`), else the given page."""
    return safe_next(request.form.get("next"), url_for(default_endpoint, **values))


@blp.get("")
@operator_required
def index():
    return render_template(
        "operators/index.html",
        jobs=jobs.list_jobs(),
        leader=jobs.leader(),
        queue=jobs.delivery_queue(),
        sources=operator_sources.source_rows(),
        refresh_seconds=REFRESH_SECONDS,
    )


@blp.get("/jobs/<name>")
@operator_required
def job(name: str):
    job = jobs.describe(jobs.get_job(name))
    runs = jobs.runs(name, page_arg(), RUNS_PER_PAGE)
    return render_template(
        "operators/job.html",
        job=job,
        runs=runs,
        pages=page_count(runs["total"], RUNS_PER_PAGE),
        page_url=lambda number: url_for("web.operators.job", name=name, page=number),
    )


@blp.post("/jobs/<name>/pause")
@operator_required
def pause(name: str):
    jobs.set_paused(name, True)
    flash(_("%(name)s is paused: scheduled runs are skipped until you resume it.", name=name),
          "success")  # fmt: skip
    return redirect(_back("web.operators.index", _anchor="jobs"))


@blp.post("/jobs/<name>/resume")
@operator_required
def resume(name: str):
    jobs.set_paused(name, False)
    flash(_("%(name)s is resumed: it runs on its schedule again.", name=name), "success")
    return redirect(_back("web.operators.index", _anchor="jobs"))


@blp.post("/jobs/<name>/run")
@operator_required
def run_now(name: str):
    try:
        jobs.request_run(name)
    except ConflictError as error:  # one run at a time: this one is still going on
        flash(_("%(name)s is running now (run %(id)s): run it again once it has finished.",
                name=name, id=error.errors["run_id"][0]), "error")  # fmt: skip
        return redirect(_back("web.operators.index", _anchor="jobs"))
    flash(_("A run of %(name)s is requested: the leader worker starts it within a few "
            "seconds.", name=name), "success")  # fmt: skip
    return redirect(_back("web.operators.index", _anchor="jobs"))
