"""/api/v1/jobs: scheduled jobs for operators — state, runs, pause, resume, run now."""

from subscribe.api import Blueprint, PageArgsSchema
from subscribe.jobs import services
from subscribe.jobs.schemas import JobListSchema, JobRunPageSchema, JobSchema

blp = Blueprint(
    "jobs", __name__, url_prefix="/api/v1/jobs", description="Scheduled jobs (operators)"
)


@blp.get("")
@blp.auth_required("operator")
@blp.response(200, JobListSchema)
def list_jobs():
    """Every job (schedule, next run, paused, last run and outcome, failure streak), the
    scheduler leader, and the delivery queue with the endpoints that fail."""
    return {
        "items": services.list_jobs(),
        "leader": services.leader(),
        "delivery_queue": services.delivery_queue(),
    }


@blp.get("/<string:name>/runs")
@blp.auth_required("operator")
@blp.arguments(PageArgsSchema, location="query", error_status_code=400)
@blp.response(200, JobRunPageSchema)
def job_runs(args, name: str):
    """The job's runs, newest first, with durations, counts and errors."""
    return services.runs(name, args["page"], args["per_page"])


@blp.post("/<string:name>/run")
@blp.auth_required("operator")
@blp.response(202, JobSchema)
@blp.alt_response(409, description="A run of the job is going on: `errors.run_id` names it")
def run_now(name: str):
    """Run the job now (the scheduler leader starts it within seconds). One run of a job
    at a time: while one is going on, 409 with its id in `errors.run_id`."""
    return services.request_run(name)


@blp.post("/<string:name>/pause")
@blp.auth_required("operator")
@blp.response(200, JobSchema)
def pause(name: str):
    """Stop scheduled runs of the job (run-now still works)."""
    return services.set_paused(name, True)


@blp.post("/<string:name>/resume")
@blp.auth_required("operator")
@blp.response(200, JobSchema)
def resume(name: str):
    """Resume scheduled runs."""
    return services.set_paused(name, False)
