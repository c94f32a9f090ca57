/**
 * The whole Attune workflow through generated TypeScript types.
 *
 * An example for integrators: `generated/attune.ts` holds the types
 * openapi-typescript generates from Attune's OpenAPI document (`npm run
 * generate`), and every call goes through openapi-fetch, which checks paths,
 * parameters, bodies and answers against them at compile time. It
 *
 *  1. exchanges API client credentials for an access token,
 *  2. creates a client,
 *  3. assigns the built-in Attachment Lean Short Form and submits answers to
 *     every item, checking the assessment is scored and classified,
 *  4. lists the exercise library, assigns homework and logs a practice with
 *     the exercise's typed fields,
 *  5. reads the client's progress and its chart,
 *  6. creates a partner, links the two as a couple and reads the couple's
 *     profile.
 *
 * Each step checks what it got back and the program exits 1 at the first
 * surprise, so scripts/check-clients runs it against a live service.
 *
 *     node dist/workflow.js [BASE_URL [CLIENT_ID [CLIENT_SECRET]]]
 *
 * or set ATTUNE_BASE_URL, ATTUNE_CLIENT_ID and ATTUNE_CLIENT_SECRET.
 */
import { randomUUID } from "node:crypto";
import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./generated/attune.js";

type Schemas = components["schemas"];
type Api = Client<paths>;
type AttuneClient = Schemas["Client"];
type Instrument = Schemas["Instrument"];
type Assessment = Schemas["Assessment"];
type Exercise = Schemas["Exercise"];
type Homework = Schemas["Homework"];
type LogField = Exercise["definition"]["log_fields"][number];
/** The `fields` of a practice log: the exercise's log fields by key. */
type LogValues = NonNullable<Schemas["NewHomeworkLog"]["fields"]>;

const INSTRUMENT = "attachment_lean_short_form";
// Exercises to assign; between them their log fields use every field type
// (text, integer, boolean, minutes, choice).
const EXERCISES = ["ask_for_small_help", "delight_in_solo_time", "needs_as_requests"];

class WorkflowError extends Error {}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new WorkflowError(message);
}

/**
 * The body of an openapi-fetch result, which must have `status`.
 *
 * openapi-fetch answers `{ data, response }` for a documented success and
 * `{ error, response }` otherwise, each typed from the document (errors are
 * RFC 9457 problem details; the token endpoint answers OAuth errors).
 */
function expect<T>(
  step: string,
  result: { data?: T; error?: unknown; response: Response },
  status: number,
): T {
  const { data, error, response } = result;
  if (response.status !== status || data === undefined) {
    throw new WorkflowError(`${step}: expected ${status}, got ${response.status}: ${JSON.stringify(error)}`);
  }
  console.log(`ok  ${step}`);
  return data;
}

/** Send one with every POST: retrying with the same key never creates twice. */
function idempotencyKey(): string {
  return `example-${randomUUID()}`;
}

// --- 1. Token ------------------------------------------------------------------

async function getToken(baseUrl: string, clientId: string, clientSecret: string): Promise<string> {
  // The token endpoint needs no token. OAuth 2 client credentials: the
  // client id and secret by HTTP Basic (form fields work too), a form body.
  // openapi-fetch encodes the body as a form when Content-Type says so.
  // Without `scope` the token carries every scope the API client holds.
  const anonymous = createClient<paths>({ baseUrl });
  const basic = Buffer.from(`${clientId}:${clientSecret}`).toString("base64");
  const token = expect(
    "POST /v1/oauth/token",
    await anonymous.POST("/v1/oauth/token", {
      headers: { Authorization: `Basic ${basic}`, "Content-Type": "application/x-www-form-urlencoded" },
      body: { grant_type: "client_credentials" },
    }),
    200,
  );
  check(token.token_type.toLowerCase() === "bearer", `token_type is ${token.token_type}`);
  const granted = new Set(token.scope.split(" "));
  for (const scope of ["clients:write", "assessments:write", "homework:write", "progress:read"]) {
    check(granted.has(scope), `token lacks scope ${scope}`);
  }
  return token.access_token;
}

// --- 2. Clients ----------------------------------------------------------------

async function newClient(api: Api, displayName: string): Promise<AttuneClient> {
  const externalId = `example-${randomUUID()}`;
  const result = await api.POST("/v1/clients", {
    params: { header: { "Idempotency-Key": idempotencyKey() } },
    body: { display_name: displayName, external_id: externalId },
  });
  const person = expect("POST /v1/clients", result, 201);
  check(person.display_name === displayName, "display_name not kept");
  check(person.external_id === externalId, "external_id not kept");
  check(result.response.headers.get("location") === `/v1/clients/${person.id}`, "Location does not name the client");
  return person;
}

// --- 3. Assessment -------------------------------------------------------------

async function findInstrument(api: Api, key: string): Promise<Instrument> {
  const versions = expect(
    `GET /v1/instruments?key=${key}`,
    await api.GET("/v1/instruments", { params: { query: { key } } }),
    200,
  );
  // Every version is listed, oldest first: administer the latest.
  const instrument = versions.data.at(-1);
  check(instrument !== undefined, `no instrument ${key}`);
  check(instrument.key === key && instrument.builtin, `${key} is not the built-in instrument`);
  return instrument;
}

/** Assign `instrument` and answer every item so each subscale scores `lean[subscale]`. */
async function administer(
  api: Api,
  person: AttuneClient,
  instrument: Instrument,
  lean: Record<string, number>,
): Promise<Assessment> {
  const assigned = expect(
    "POST /v1/assessments",
    await api.POST("/v1/assessments", {
      params: { header: { "Idempotency-Key": idempotencyKey() } },
      body: { client_id: person.id, instrument_id: instrument.id },
    }),
    201,
  );
  check(assigned.client_id === person.id && assigned.instrument_id === instrument.id, "assessment ids do not match");
  check(assigned.status === "assigned", `new assessment is ${assigned.status}`);

  // One answer per item on the instrument's scale. Reverse-keyed items are
  // scored as min + max - answer, so answer them the other way round.
  const { scale, items } = instrument.definition;
  const answers: Schemas["Answer"][] = items.map((item) => {
    const wanted = lean[item.subscale];
    check(wanted !== undefined, `item ${item.id} counts toward unexpected subscale ${item.subscale}`);
    const value = item.reverse === true ? scale.min + scale.max - wanted : wanted;
    check(scale.min <= value && value <= scale.max, `answer ${value} off the scale`);
    return { item_id: item.id, value };
  });

  const scored = expect(
    "POST /v1/assessments/{id}/responses",
    await api.POST("/v1/assessments/{id}/responses", {
      params: { path: { id: assigned.id }, header: { "Idempotency-Key": idempotencyKey() } },
      body: { answers },
    }),
    200,
  );
  check(scored.id === assigned.id, "responses scored another assessment");
  check(scored.status === "completed", `assessment is ${scored.status}, not completed`);
  const scores = scored.scores ?? [];
  for (const [subscale, wanted] of Object.entries(lean)) {
    const score = scores.find((s) => s.key === subscale);
    check(score !== undefined, `no score for ${subscale}`);
    check(score.missing === 0 && score.answered > 0, `${subscale}: answered ${score.answered}, missing ${score.missing}`);
    check(Math.abs(score.score - wanted) < 1e-9, `${subscale} scored ${score.score}, expected ${wanted}`);
  }
  check(scored.classification != null && scored.classification.explanation !== "", "no classification");
  return scored;
}

// --- 4. Homework ---------------------------------------------------------------

/** Every exercise, page by page (lists are keyset-paginated with `cursor`). */
async function listAllExercises(api: Api): Promise<Exercise[]> {
  const exercises: Exercise[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = expect(
      "GET /v1/exercises",
      await api.GET("/v1/exercises", { params: { query: { limit: 50, cursor } } }),
      200,
    );
    exercises.push(...page.data);
    if (page.next_cursor == null) return exercises;
    cursor = page.next_cursor;
  }
}

/**
 * A value of the right type for one log field. The definition says what each
 * field takes (its `type` tells the kinds apart); a portal would render one
 * input per field. Here we fill in something valid.
 */
function logValue(field: LogField): LogValues[string] {
  switch (field.type) {
    case "integer":
      return Math.floor((field.min + field.max) / 2); // within min..max
    case "minutes":
      return Math.min(30, field.max); // whole minutes, 0..max
    case "boolean":
      return true;
    case "choice": {
      const option = field.options[0]; // one of its options
      check(option !== undefined, `${field.key}: a choice without options`);
      return option;
    }
    case "text":
      return "Asked for a lift to the station.".slice(0, field.max_length);
    default: {
      const unknown: never = field;
      throw new WorkflowError(`a log field of unknown type: ${JSON.stringify(unknown)}`);
    }
  }
}

async function assignAndLog(api: Api, person: AttuneClient, exercise: Exercise): Promise<Homework> {
  const today = new Date().toISOString().slice(0, 10);
  const homework = expect(
    "POST /v1/homework",
    await api.POST("/v1/homework", {
      params: { header: { "Idempotency-Key": idempotencyKey() } },
      body: { client_id: person.id, exercise_id: exercise.id, cadence_per_week: 2, starts_on: today },
    }),
    201,
  );
  check(homework.client_id === person.id && homework.exercise_id === exercise.id, "homework ids do not match");
  check(homework.exercise_key === exercise.key, "homework names another exercise");

  const fields: LogValues = {};
  for (const field of exercise.definition.log_fields) fields[field.key] = logValue(field);
  const occurredAt = new Date();
  occurredAt.setUTCMilliseconds(0);
  const log = expect(
    "POST /v1/homework/{id}/logs",
    await api.POST("/v1/homework/{id}/logs", {
      params: { path: { id: homework.id }, header: { "Idempotency-Key": idempotencyKey() } },
      body: { occurred_at: occurredAt.toISOString(), done: true, fields, reflection: "Easier than I expected." },
    }),
    201,
  );
  check(log.homework_id === homework.id, "log belongs to another assignment");
  check(log.done && Date.parse(log.occurred_at) === occurredAt.getTime(), "log does not say what was sent");
  for (const [key, value] of Object.entries(fields)) {
    check(log.fields[key] === value, `logged ${key} is ${JSON.stringify(log.fields[key])}, sent ${JSON.stringify(value)}`);
  }
  return homework;
}

// --- 5. Progress ---------------------------------------------------------------

async function readProgress(api: Api, person: AttuneClient, assessment: Assessment, homework: Homework[]): Promise<void> {
  const progress = expect(
    "GET /v1/clients/{id}/progress",
    await api.GET("/v1/clients/{id}/progress", { params: { path: { id: person.id } } }),
    200,
  );
  check(progress.client_id === person.id, "progress of another client");
  const entry = progress.instruments.find((i) => i.instrument_key === INSTRUMENT);
  check(entry !== undefined, `progress has no ${INSTRUMENT}`);
  check(entry.administrations === 1, `${entry.administrations} administrations, expected 1`);
  for (const subscale of entry.subscales) {
    const scored = assessment.scores?.find((s) => s.key === subscale.key);
    check(subscale.latest.assessment_id === assessment.id, `${subscale.key}: latest is another assessment`);
    check(scored !== undefined && Math.abs(subscale.latest.score - scored.score) < 1e-9, `${subscale.key}: latest differs`);
  }
  for (const assigned of homework) {
    const adherence = progress.adherence.assignments.find((a) => a.homework_id === assigned.id);
    check(adherence !== undefined, `no adherence for homework ${assigned.id}`);
    check(adherence.overall.logged === 1, `homework ${assigned.id}: logged count is not 1`);
  }

  const subscale = entry.subscales[0];
  check(subscale !== undefined, `${INSTRUMENT} progress has no subscales`);
  const chart = await api.GET("/v1/clients/{id}/progress/chart.svg", {
    params: { path: { id: person.id }, query: { instrument: INSTRUMENT, subscale: subscale.key } },
    parseAs: "text", // an SVG document, not JSON
  });
  const svg = expect("GET /v1/clients/{id}/progress/chart.svg", chart, 200);
  check((chart.response.headers.get("content-type") ?? "").startsWith("image/svg+xml"), "chart is not image/svg+xml");
  const start = svg.trimStart();
  check(start.startsWith("<svg") || start.startsWith("<?xml"), `chart is not SVG: ${svg.slice(0, 60)}`);
}

// --- 6. Couples ----------------------------------------------------------------

async function coupleProfile(api: Api, pursuer: AttuneClient, withdrawer: AttuneClient): Promise<void> {
  const relationship = expect(
    "POST /v1/relationships",
    await api.POST("/v1/relationships", {
      params: { header: { "Idempotency-Key": idempotencyKey() } },
      body: { kind: "couple", client_ids: [pursuer.id, withdrawer.id] },
    }),
    201,
  );
  const members = [pursuer.id, withdrawer.id].sort();
  check(relationship.kind === "couple", `relationship kind ${relationship.kind}`);
  check([...relationship.client_ids].sort().join() === members.join(), "relationship members differ");

  const profile = expect(
    "GET /v1/relationships/{id}/profile",
    await api.GET("/v1/relationships/{id}/profile", { params: { path: { id: relationship.id } } }),
    200,
  );
  check(profile.relationship_id === relationship.id, "profile of another relationship");
  check(profile.members.map((m) => m.client_id).sort().join() === members.join(), "profile members differ");
  for (const member of profile.members) {
    const lean = member.leans.find((l) => l.instrument_key === INSTRUMENT);
    check(lean !== undefined, `${member.display_name} has no ${INSTRUMENT} lean`);
    check(typeof lean.label === "string", `${member.display_name} has no label`);
  }
  // One leans anxious, the other avoidant: the service names the pattern,
  // the pursuer first.
  const patterns = profile.patterns.filter((p) => p.kind === "pursue_withdraw");
  check(patterns.length === 1, `expected one pursue_withdraw, got ${profile.patterns.map((p) => p.kind).join()}`);
  check(patterns[0]?.client_ids.join() === [pursuer.id, withdrawer.id].join(), "pursue_withdraw names the wrong order");
}

async function run(baseUrl: string, clientId: string, clientSecret: string): Promise<void> {
  const token = await getToken(baseUrl, clientId, clientSecret);
  // Every other operation sends the bearer token. Tokens are short-lived:
  // fetch a new one when it expires.
  const api = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });

  const alex = await newClient(api, "Alex R.");
  const instrument = await findInstrument(api, INSTRUMENT);
  // Anxiety high, avoidance low: classified `anxious`.
  const assessment = await administer(api, alex, instrument, { anxiety: 6, avoidance: 2 });
  check(assessment.classification?.label === "anxious", `classified ${assessment.classification?.label}`);

  const library = new Map((await listAllExercises(api)).map((e) => [e.key, e]));
  const homework: Homework[] = [];
  for (const key of EXERCISES) {
    const exercise = library.get(key);
    check(exercise !== undefined, `library lacks ${key}`);
    homework.push(await assignAndLog(api, alex, exercise));
  }

  await readProgress(api, alex, assessment, homework);

  const sam = await newClient(api, "Sam R.");
  const partner = await administer(api, sam, instrument, { anxiety: 2, avoidance: 6 });
  check(partner.classification?.label === "avoidant", `partner classified ${partner.classification?.label}`);
  await coupleProfile(api, alex, sam);
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const baseUrl = args[0] ?? process.env["ATTUNE_BASE_URL"] ?? "http://127.0.0.1:8080";
  const clientId = args[1] ?? process.env["ATTUNE_CLIENT_ID"] ?? "";
  const clientSecret = args[2] ?? process.env["ATTUNE_CLIENT_SECRET"] ?? "";
  if (clientId === "" || clientSecret === "") {
    console.error("usage: node dist/workflow.js [BASE_URL [CLIENT_ID [CLIENT_SECRET]]] (or ATTUNE_* variables)");
    return 2;
  }
  try {
    await run(baseUrl.replace(/\/+$/, ""), clientId, clientSecret);
  } catch (error) {
    if (!(error instanceof WorkflowError)) throw error;
    console.error(`FAIL ${error.message}`);
    return 1;
  }
  console.log("workflow completed");
  return 0;
}

process.exitCode = await main();
