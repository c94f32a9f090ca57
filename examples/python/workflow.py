"""The whole Attune workflow through a generated Python client.

An example for integrators: every call goes through the client that
openapi-python-client generates from Attune's OpenAPI document (the package
`attune_client`; see README.md next to this file), none is hand-written
HTTP. It

 1. exchanges API client credentials for an access token,
 2. creates a client,
 3. assigns the built-in Attachment Lean Short Form and submits answers to
    every item, checking the assessment is scored and classified,
 4. lists the exercise library, assigns homework and logs a practice with
    the exercise's typed fields,
 5. reads the client's progress and its chart,
 6. creates a partner, links the two as a couple and reads the couple's
    profile.

Each step checks what it got back and the program exits 1 at the first
surprise, so scripts/check-clients runs it against a live service.

    python workflow.py [BASE_URL [CLIENT_ID [CLIENT_SECRET]]]

or set ATTUNE_BASE_URL, ATTUNE_CLIENT_ID and ATTUNE_CLIENT_SECRET.
"""

from __future__ import annotations

import datetime
import math
import os
import sys
import uuid
from http import HTTPStatus
from typing import Any, TypeVar

from attune_client import AuthenticatedClient, Client
from attune_client.api.assessments import create_assessment, submit_assessment_responses
from attune_client.api.auth import create_token
from attune_client.api.clients import create_client
from attune_client.api.exercises import list_exercises
from attune_client.api.homework import create_homework, create_homework_log
from attune_client.api.instruments import list_instruments
from attune_client.api.progress import get_client_progress, get_client_progress_chart
from attune_client.api.relationships import create_relationship, get_relationship_profile
from attune_client.models import (
    Answer,
    Assessment,
    AssessmentResponses,
    AssessmentStatus,
    BooleanLogField,
    ChoiceLogField,
    ClientProgress,
    Exercise,
    ExerciseList,
    GrantType,
    Homework,
    HomeworkLog,
    Instrument,
    InstrumentList,
    IntegerLogField,
    MinutesLogField,
    NewAssessment,
    NewClient,
    NewHomework,
    NewHomeworkLog,
    NewHomeworkLogFields,
    NewRelationship,
    PatternKind,
    Relationship,
    RelationshipProfile,
    TextLogField,
    TokenRequest,
    TokenResponse,
)
from attune_client.models import Client as AttuneClient
from attune_client.types import UNSET, Response, Unset

INSTRUMENT = "attachment_lean_short_form"
# Exercises to assign; between them their log fields use every field type
# (text, integer, boolean, minutes, choice).
EXERCISES = ["ask_for_small_help", "delight_in_solo_time", "needs_as_requests"]

T = TypeVar("T")


class WorkflowError(Exception):
    """A step got an answer it did not expect."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise WorkflowError(message)


def expect(step: str, response: Response[Any], status: HTTPStatus, kind: type[T]) -> T:
    """The parsed body of `response`, which must have `status` and be a `kind`.

    Every generated operation returns a `Response` whose `parsed` is the
    documented model for the status received: the success model, or a
    `ProblemDetails` (RFC 9457) for an error.
    """
    parsed = response.parsed
    if response.status_code != status or not isinstance(parsed, kind):
        body = response.content.decode("utf-8", "replace")[:2000]
        raise WorkflowError(f"{step}: expected {status.value} {kind.__name__}, got {response.status_code.value}: {body}")
    print(f"ok  {step}")
    return parsed


def idempotency_key() -> str:
    """Send one with every POST: retrying with the same key never creates twice."""
    return f"example-{uuid.uuid4()}"


# --- 1. Token --------------------------------------------------------------


def get_token(base_url: str, client_id: str, client_secret: str) -> str:
    # The token endpoint needs no token: a plain `Client`. OAuth 2 client
    # credentials, sent as form fields (HTTP Basic works too). Without
    # `scope` the token carries every scope the API client holds.
    with Client(base_url=base_url) as anonymous:
        response = create_token.sync_detailed(
            client=anonymous,
            body=TokenRequest(grant_type=GrantType.CLIENT_CREDENTIALS, client_id=client_id, client_secret=client_secret),
        )
    token = expect("POST /v1/oauth/token", response, HTTPStatus.OK, TokenResponse)
    check(token.token_type.lower() == "bearer", f"token_type is {token.token_type!r}")
    granted = set(token.scope.split())
    needed = {"clients:write", "assessments:write", "homework:write", "progress:read"}
    check(needed <= granted, f"token lacks scopes {sorted(needed - granted)}")
    return token.access_token


# --- 2. Clients --------------------------------------------------------------


def new_client(api: AuthenticatedClient, display_name: str) -> AttuneClient:
    external_id = f"example-{uuid.uuid4()}"
    response = create_client.sync_detailed(
        client=api,
        body=NewClient(display_name=display_name, external_id=external_id),
        idempotency_key=idempotency_key(),
    )
    person = expect("POST /v1/clients", response, HTTPStatus.CREATED, AttuneClient)
    check(person.display_name == display_name, "display_name not kept")
    check(person.external_id == external_id, "external_id not kept")
    check(response.headers.get("location") == f"/v1/clients/{person.id}", "Location does not name the new client")
    return person


# --- 3. Assessment -------------------------------------------------------------


def find_instrument(api: AuthenticatedClient, key: str) -> Instrument:
    response = list_instruments.sync_detailed(client=api, key=key)
    versions = expect(f"GET /v1/instruments?key={key}", response, HTTPStatus.OK, InstrumentList)
    check(len(versions.data) > 0, f"no instrument {key}")
    # Every version is listed, oldest first: administer the latest.
    instrument = versions.data[-1]
    check(instrument.key == key and instrument.builtin, f"{key} is not the built-in instrument")
    return instrument


def administer(api: AuthenticatedClient, person: AttuneClient, instrument: Instrument, lean: dict[str, int]) -> Assessment:
    """Assign `instrument` and answer every item so each subscale scores `lean[subscale]`."""
    response = create_assessment.sync_detailed(
        client=api,
        body=NewAssessment(client_id=person.id, instrument_id=instrument.id),
        idempotency_key=idempotency_key(),
    )
    assigned = expect("POST /v1/assessments", response, HTTPStatus.CREATED, Assessment)
    check(assigned.client_id == person.id and assigned.instrument_id == instrument.id, "assessment ids do not match")
    check(assigned.status == AssessmentStatus.ASSIGNED, f"new assessment is {assigned.status}")

    # One answer per item on the instrument's scale. Reverse-keyed items are
    # scored as min + max - answer, so answer them the other way round.
    scale = instrument.definition.scale
    answers = []
    for item in instrument.definition.items:
        check(item.subscale in lean, f"item {item.id} counts toward unexpected subscale {item.subscale}")
        wanted = lean[item.subscale]
        value = scale.min_ + scale.max_ - wanted if item.reverse is True else wanted
        check(scale.min_ <= value <= scale.max_, f"answer {value} off the scale")
        answers.append(Answer(item_id=item.id, value=value))

    response = submit_assessment_responses.sync_detailed(
        assigned.id,
        client=api,
        body=AssessmentResponses(answers=answers),
        idempotency_key=idempotency_key(),
    )
    scored = expect("POST /v1/assessments/{id}/responses", response, HTTPStatus.OK, Assessment)
    check(scored.id == assigned.id, "responses scored another assessment")
    check(scored.status == AssessmentStatus.COMPLETED, f"assessment is {scored.status}, not completed")
    if not isinstance(scored.scores, list):
        raise WorkflowError("completed assessment has no scores")
    by_key = {score.key: score for score in scored.scores}
    for subscale, wanted in lean.items():
        check(subscale in by_key, f"no score for {subscale}")
        score = by_key[subscale]
        check(score.missing == 0 and score.answered > 0, f"{subscale}: answered {score.answered}, missing {score.missing}")
        check(math.isclose(score.score, wanted), f"{subscale} scored {score.score}, expected {wanted}")
    check(scored.classification is not None and not isinstance(scored.classification, Unset), "no classification")
    return scored


def classification_label(assessment: Assessment) -> str:
    classification = assessment.classification
    if classification is None or isinstance(classification, Unset):
        raise WorkflowError("no classification")
    check(classification.explanation != "", "classification without an explanation")
    return classification.label


# --- 4. Homework -------------------------------------------------------------


def list_all_exercises(api: AuthenticatedClient) -> list[Exercise]:
    """Every exercise, page by page (lists are keyset-paginated with `cursor`)."""
    exercises: list[Exercise] = []
    cursor: str | Unset = UNSET
    while True:
        response = list_exercises.sync_detailed(client=api, limit=50, cursor=cursor)
        page = expect("GET /v1/exercises", response, HTTPStatus.OK, ExerciseList)
        exercises.extend(page.data)
        if not isinstance(page.next_cursor, str):
            return exercises
        cursor = page.next_cursor


LogValue = int | bool | str


def log_values(exercise: Exercise) -> dict[str, LogValue]:
    """A value of the right type for each of the exercise's log fields.

    The definition says what each field takes; a portal would render one
    input per field. Here we fill in something valid.
    """
    values: dict[str, LogValue] = {}
    for field in exercise.definition.log_fields:
        if isinstance(field, IntegerLogField):
            values[field.key] = (field.min_ + field.max_) // 2  # within min..max
        elif isinstance(field, MinutesLogField):
            values[field.key] = min(30, field.max_)  # whole minutes, 0..max
        elif isinstance(field, BooleanLogField):
            values[field.key] = True
        elif isinstance(field, ChoiceLogField):
            values[field.key] = field.options[0]  # one of its options
        elif isinstance(field, TextLogField):
            values[field.key] = "Asked for a lift to the station."[: field.max_length]
    check(len(values) == len(exercise.definition.log_fields), f"{exercise.key}: a log field of unknown type")
    return values


def assign_and_log(api: AuthenticatedClient, person: AttuneClient, exercise: Exercise) -> Homework:
    today = datetime.datetime.now(datetime.timezone.utc).date()
    response = create_homework.sync_detailed(
        client=api,
        body=NewHomework(client_id=person.id, exercise_id=exercise.id, cadence_per_week=2, starts_on=today),
        idempotency_key=idempotency_key(),
    )
    homework = expect("POST /v1/homework", response, HTTPStatus.CREATED, Homework)
    check(homework.client_id == person.id and homework.exercise_id == exercise.id, "homework ids do not match")
    check(homework.exercise_key == exercise.key, "homework names another exercise")

    values = log_values(exercise)
    occurred_at = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    logged = create_homework_log.sync_detailed(
        homework.id,
        client=api,
        body=NewHomeworkLog(
            occurred_at=occurred_at,
            done=True,
            fields=NewHomeworkLogFields.from_dict(values),
            reflection="Easier than I expected.",
        ),
        idempotency_key=idempotency_key(),
    )
    log = expect("POST /v1/homework/{id}/logs", logged, HTTPStatus.CREATED, HomeworkLog)
    check(log.homework_id == homework.id, "log belongs to another assignment")
    check(log.done and log.occurred_at == occurred_at, "log does not say what was sent")
    check(log.fields.additional_properties == values, f"logged fields {log.fields.additional_properties} != {values}")
    return homework


# --- 5. Progress -------------------------------------------------------------


def read_progress(api: AuthenticatedClient, person: AttuneClient, assessment: Assessment, homework: list[Homework]) -> None:
    response = get_client_progress.sync_detailed(person.id, client=api)
    progress = expect("GET /v1/clients/{id}/progress", response, HTTPStatus.OK, ClientProgress)
    check(progress.client_id == person.id, "progress of another client")
    instruments = {entry.instrument_key: entry for entry in progress.instruments}
    check(INSTRUMENT in instruments, f"progress has no {INSTRUMENT}")
    entry = instruments[INSTRUMENT]
    check(entry.administrations == 1, f"{entry.administrations} administrations, expected 1")
    scores = {score.key: score.score for score in assessment.scores} if isinstance(assessment.scores, list) else {}
    for subscale in entry.subscales:
        check(subscale.latest.assessment_id == assessment.id, f"{subscale.key}: latest is another assessment")
        check(math.isclose(subscale.latest.score, scores.get(subscale.key, math.nan)), f"{subscale.key}: latest differs")
    assignments = {item.homework_id: item for item in progress.adherence.assignments}
    for assigned in homework:
        check(assigned.id in assignments, f"no adherence for homework {assigned.id}")
        check(assignments[assigned.id].overall.logged == 1, f"homework {assigned.id}: logged count is not 1")

    subscale_key = entry.subscales[0].key
    chart = get_client_progress_chart.sync_detailed(person.id, client=api, instrument=INSTRUMENT, subscale=subscale_key)
    svg = expect("GET /v1/clients/{id}/progress/chart.svg", chart, HTTPStatus.OK, str)
    check(chart.headers.get("content-type", "").startswith("image/svg+xml"), "chart is not image/svg+xml")
    check(svg.lstrip().startswith(("<svg", "<?xml")), f"chart is not SVG: {svg[:60]!r}")


# --- 6. Couples --------------------------------------------------------------


def couple_profile(api: AuthenticatedClient, pursuer: AttuneClient, withdrawer: AttuneClient) -> None:
    response = create_relationship.sync_detailed(
        client=api,
        body=NewRelationship(kind="couple", client_ids=[pursuer.id, withdrawer.id]),
        idempotency_key=idempotency_key(),
    )
    relationship = expect("POST /v1/relationships", response, HTTPStatus.CREATED, Relationship)
    check(relationship.kind == "couple", f"relationship kind {relationship.kind}")
    check(set(relationship.client_ids) == {pursuer.id, withdrawer.id}, "relationship members differ")

    answer = get_relationship_profile.sync_detailed(relationship.id, client=api)
    profile = expect("GET /v1/relationships/{id}/profile", answer, HTTPStatus.OK, RelationshipProfile)
    check(profile.relationship_id == relationship.id, "profile of another relationship")
    check({member.client_id for member in profile.members} == {pursuer.id, withdrawer.id}, "profile members differ")
    for member in profile.members:
        leans = {lean.instrument_key: lean for lean in member.leans}
        check(INSTRUMENT in leans, f"{member.display_name} has no {INSTRUMENT} lean")
        check(isinstance(leans[INSTRUMENT].label, str), f"{member.display_name} has no label")
    # One leans anxious, the other avoidant: the service names the pattern,
    # the pursuer first.
    patterns = [p for p in profile.patterns if p.kind == PatternKind.PURSUE_WITHDRAW]
    check(len(patterns) == 1, f"expected one pursue_withdraw pattern, got {[p.kind for p in profile.patterns]}")
    check(patterns[0].client_ids == [pursuer.id, withdrawer.id], "pursue_withdraw names the wrong order")


def run(base_url: str, client_id: str, client_secret: str) -> None:
    token = get_token(base_url, client_id, client_secret)
    # Every other operation takes an `AuthenticatedClient`, which sends the
    # bearer token. Tokens are short-lived: fetch a new one when it expires.
    with AuthenticatedClient(base_url=base_url, token=token) as api:
        alex = new_client(api, "Alex R.")
        instrument = find_instrument(api, INSTRUMENT)
        # Anxiety high, avoidance low: classified `anxious`.
        assessment = administer(api, alex, instrument, {"anxiety": 6, "avoidance": 2})
        check(classification_label(assessment) == "anxious", f"classified {classification_label(assessment)}")

        library = {exercise.key: exercise for exercise in list_all_exercises(api)}
        check(all(key in library for key in EXERCISES), f"library lacks one of {EXERCISES}")
        homework = [assign_and_log(api, alex, library[key]) for key in EXERCISES]

        read_progress(api, alex, assessment, homework)

        sam = new_client(api, "Sam R.")
        partner = administer(api, sam, instrument, {"anxiety": 2, "avoidance": 6})
        check(classification_label(partner) == "avoidant", f"partner classified {classification_label(partner)}")
        couple_profile(api, alex, sam)


def main(argv: list[str]) -> int:
    args = argv[1:]
    base_url = args[0] if len(args) > 0 else os.environ.get("ATTUNE_BASE_URL", "http://127.0.0.1:8080")
    client_id = args[1] if len(args) > 1 else os.environ.get("ATTUNE_CLIENT_ID", "")
    client_secret = args[2] if len(args) > 2 else os.environ.get("ATTUNE_CLIENT_SECRET", "")
    if not client_id or not client_secret:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        run(base_url.rstrip("/"), client_id, client_secret)
    except WorkflowError as error:
        print(f"FAIL {error}", file=sys.stderr)
        return 1
    print("workflow completed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
