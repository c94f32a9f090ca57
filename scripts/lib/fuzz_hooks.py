"""schemathesis hooks for scripts/fuzz (loaded through SCHEMATHESIS_HOOKS).

`positive_data_acceptance_by_rule` is schemathesis's positive-data check
(a request the document calls valid must be accepted) with one difference:
it lets through refusals of rules that no schema can state, each listed
below with its reason. Everything else a schema-valid request is refused for
is a gap in the document, and fails the run.
"""

import json
import re

import schemathesis
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

# Answers that never mean the request was malformed. 410: the fuzzer may
# erase the client it was pointed at (an erasure with grace_period_days 0
# runs on the job's next run), and that client's routes answer 410 after.
ACCEPTED_STATUSES = {401, 403, 404, 409, 410, 429}

# Problem codes whose rule depends on stored state, not on the request's shape.
STATE_CODES = {
    # If-Match names a version; whether it is the current one is state.
    "precondition_failed": "the ETag sent is not the resource's current version",
    # The fuzzer reuses keys across bodies; a key's meaning is an earlier request.
    "idempotency_key_reused": "the Idempotency-Key named another request earlier",
    # A chart of an instrument the client never completed has nothing to draw.
    "no_scores": "the client has no completed administration of that instrument",
    # An export's files are removed after the retention; whether that has happened is state.
    "export_expired": "the export's files passed their retention",
}

# Field errors (of 422 validation_failed, 400 invalid_query) that no schema can
# state, as (field, message) patterns: references to stored rows, rules that
# relate two fields, and rules set by a stored instrument or exercise.
UNSTATEABLE = [
    # An id that does not exist in the practice, or names an archived or erased client.
    (r"^(client_id|instrument_id|exercise_id|client_ids\[\d+\])$",
     r"^(no (client|instrument|exercise) with this id in your practice|the client is archived|the client was erased)$"),
    # A translation names the definition's own items, labelled scale values and log fields.
    (r"^translations\.[a-z]+\.(items\.|scale_labels\[\d+\]\.value$|log_fields\.)",
     r"^(names no (item of this instrument|labelled value of the scale|log field of this exercise)|"
     r"must give one label per option of the field \(\d+\))$"),
    # A link's listed items must be the client's open assessments and active assignments.
    (r"^(assessment_ids|homework_ids)\[\d+\]$", r"^is not an (open assessment|active assignment) of this client$"),
    # Order between two parameters or two fields.
    (r"^to$", r"^must not be before from$"),
    (r"^ends_on$", r"^must not be before starts_on$"),
    (r"^scale\.max$", r"^must be greater than scale\.min$"),
    (r"^log_fields\[\d+\]\.max$", r"^must be greater than min$"),
    (r"^classification\.(avoidance|dependent)$", r"^must differ from classification\."),
    (r"^scale\.labels\[\d+\]\.value$", r"^must lie on the scale$"),
    (r"^subscales\[\d+\]\.bands\[\d+\]$",
     r"^(must satisfy min <= max within the subscale's score range|overlaps another band)$"),
    (r"^subscales\[\d+\]\.norms\.(clinical|normal)_sd$", r"^give the (clinical|non-clinical) mean and sd together$"),
    # Uniqueness of a member's key within a list of objects, and references inside one definition.
    (r"^(items\[\d+\]\.id|subscales\[\d+\]\.key|log_fields\[\d+\]\.key)$", r"^duplicates another "),
    (r"^(items\[\d+\]\.subscale|classification\.[a-z_]+)$", r"^names no subscale of this instrument$"),
    (r"^subscales\[\d+\]\.key$", r"^no item belongs to this subscale$"),
    (r"^subscales\[\d+\]\.max_missing$", r"^must leave at least one item to answer$"),
    # Answers are checked against the stored instrument.
    (r"^answers\[\d+\]\.item_id$", r"^(names no item of this instrument|answers this item a second time)$"),
    (r"^answers\[\d+\]\.value$", r"^must be an integer from -?\d+ to -?\d+$"),
    (r"^answers$", r"^subscale `[a-z0-9_]+` has \d+ unanswered items; at most \d+ may be missing$"),
    # Log fields are checked against the stored exercise.
    (r"^fields\.", r"^(is not a field of this exercise|is required when the practice was done|"
                    r"must be an integer from -?\d+ to -?\d+|must be whole minutes from 0 to \d+|"
                    r"must be text of at most \d+ characters|must be true or false|must be one of: .*)$"),
    # Webhook receivers: https on a public address, checked after DNS.
    (r"^url$", r"^(must be an absolute https URL|must not carry a user name or password|must name a host|"
               r"the host name does not resolve|.* is a loopback, private, link-local, multicast or otherwise internal address)$"),
    (r"^event_id$", r"^give exactly one of event_id and since$"),
    # Times against the clock and the stored assignment.
    (r"^(completed_at|occurred_at)$", r"^(must not be in the future|is in the future|is before the assignment starts)$"),
]


def _problem(response):
    try:
        return json.loads(response.content)
    except (ValueError, TypeError):
        return None


def _unstateable(problem):
    if problem.get("code") in STATE_CODES:
        return True
    errors = problem.get("errors") or []
    if problem.get("code") not in ("validation_failed", "invalid_query") or not errors:
        return False
    return all(
        any(re.search(field, e.get("field", "")) and re.search(message, e.get("message", ""))
            for field, message in UNSTATEABLE)
        for e in errors
    )


@schemathesis.check
def positive_data_acceptance_by_rule(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or is_unexpected_http_status_case(case):
        return None
    status = response.status_code
    if status < 400 or status >= 500 or status in ACCEPTED_STATUSES:
        return None
    # The token endpoint refuses made-up credentials; the document cannot know which exist.
    if case.operation.path == "/v1/oauth/token" and status in (400, 401):
        return None
    problem = _problem(response)
    if problem is not None and _unstateable(problem):
        return None
    raise AssertionError(
        f"A request the document calls valid was refused with {status}: "
        f"{json.dumps(problem) if problem is not None else response.text[:300]}"
    )
