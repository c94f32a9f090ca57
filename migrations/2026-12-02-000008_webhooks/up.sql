-- Webhook endpoints and the deliveries queued for them.
--
-- Each endpoint keeps a cursor into its practice's event sequence. The
-- dispatcher moves it forward, queueing a delivery for every new event of a
-- wanted type, under the endpoint's row lock; since event numbers follow
-- commit order (see the events migration), no event can appear behind a
-- cursor, and none is queued twice.
CREATE TABLE webhook_endpoints (
    practice_id                uuid        NOT NULL REFERENCES practices (id),
    id                         uuid        NOT NULL,
    url                        text        NOT NULL,
    description                text        NOT NULL DEFAULT '',
    event_types                text[]      NOT NULL,
    enabled                    boolean     NOT NULL DEFAULT true,
    -- AES-256-GCM under the configured key: nonce || ciphertext || tag.
    secret_sealed              bytea       NOT NULL,
    -- The secret before the last rotation; it signs too until it expires.
    previous_secret_sealed     bytea,
    previous_secret_expires_at timestamptz,
    -- The last event sequence considered for delivery.
    event_cursor               bigint      NOT NULL CHECK (event_cursor >= 0),
    -- Since when every attempt has failed (none since the last success).
    failing_since              timestamptz,
    disabled_reason            text CHECK (disabled_reason IN ('gone', 'failing')),
    disabled_by_event_id       uuid,
    disabled_at                timestamptz,
    version                    integer     NOT NULL DEFAULT 1,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (practice_id, id)
);

-- One message to one endpoint, tried until it succeeds or the schedule ends.
CREATE TABLE webhook_deliveries (
    practice_id     uuid        NOT NULL,
    id              uuid        NOT NULL,
    endpoint_id     uuid        NOT NULL,
    -- The `webhook-id` header: the event's id, the same on every attempt.
    webhook_id      uuid        NOT NULL,
    event_type      text        NOT NULL,
    -- The exact body sent (ids and states only, as in the feed).
    body            text        NOT NULL,
    state           text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'succeeded', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    -- Held by the instance sending it until then; a crashed sender's lease runs out.
    leased_until    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    PRIMARY KEY (practice_id, id),
    FOREIGN KEY (practice_id, endpoint_id) REFERENCES webhook_endpoints (practice_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (practice_id, endpoint_id, id);
CREATE INDEX webhook_deliveries_age_idx ON webhook_deliveries (created_at);

-- Every attempt, for the integrator's delivery log.
CREATE TABLE webhook_attempts (
    practice_id  uuid        NOT NULL,
    id           uuid        NOT NULL,
    delivery_id  uuid        NOT NULL,
    endpoint_id  uuid        NOT NULL,
    attempt      integer     NOT NULL CHECK (attempt > 0),
    attempted_at timestamptz NOT NULL,
    status_code  integer,
    latency_ms   integer     NOT NULL,
    -- Why it failed, in the service's words (never the receiver's body).
    error        text,
    -- The receiver's answer, cut to a few hundred bytes.
    response     text,
    PRIMARY KEY (practice_id, id),
    FOREIGN KEY (practice_id, delivery_id) REFERENCES webhook_deliveries (practice_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_attempts_endpoint_idx ON webhook_attempts (practice_id, endpoint_id, id);
CREATE INDEX webhook_deliveries_leased_idx ON webhook_deliveries (practice_id, endpoint_id)
    WHERE state = 'pending' AND leased_until IS NOT NULL;
CREATE INDEX webhook_deliveries_queue_idx ON webhook_deliveries (practice_id, endpoint_id, next_attempt_at)
    WHERE state = 'pending';

-- A UUID v7 (time-ordered, like the ids the service makes), for rows the
-- dispatcher queues in SQL: the millisecond clock over a random v4's first
-- 48 bits, and the version nibble set to 7.
CREATE FUNCTION attune_uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;
