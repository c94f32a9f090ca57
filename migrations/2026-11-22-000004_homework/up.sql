-- An exercise assigned to a client, with its cadence and dates.
CREATE TABLE homework (
    practice_id      uuid        NOT NULL,
    id               uuid        NOT NULL,
    client_id        uuid        NOT NULL,
    exercise_id      uuid        NOT NULL REFERENCES exercises (id),
    cadence_per_week integer     NOT NULL CHECK (cadence_per_week BETWEEN 1 AND 14),
    starts_on        date        NOT NULL,
    ends_on          date        CHECK (ends_on >= starts_on),
    note             text        CHECK (length(note) <= 4000),
    status           text        NOT NULL CHECK (status IN ('active', 'paused', 'completed', 'cancelled')),
    version          integer     NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (practice_id, id),
    FOREIGN KEY (practice_id, client_id) REFERENCES clients (practice_id, id)
);
CREATE INDEX homework_client_idx ON homework (practice_id, client_id, id);

-- Paused spans, so adherence can leave them out.
CREATE TABLE homework_pauses (
    practice_id uuid        NOT NULL,
    homework_id uuid        NOT NULL,
    paused_at   timestamptz NOT NULL,
    resumed_at  timestamptz,
    PRIMARY KEY (practice_id, homework_id, paused_at),
    FOREIGN KEY (practice_id, homework_id) REFERENCES homework (practice_id, id)
);

-- One logged practice of an assignment.
CREATE TABLE homework_logs (
    practice_id uuid        NOT NULL,
    id          uuid        NOT NULL,
    homework_id uuid        NOT NULL,
    client_id   uuid        NOT NULL,
    occurred_at timestamptz NOT NULL,
    done        boolean     NOT NULL,
    fields      jsonb       NOT NULL,
    reflection  text        CHECK (length(reflection) <= 4000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (practice_id, id),
    FOREIGN KEY (practice_id, homework_id) REFERENCES homework (practice_id, id)
);
CREATE INDEX homework_logs_homework_idx ON homework_logs (practice_id, homework_id, occurred_at);
