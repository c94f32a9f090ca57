-- Homework exercise definitions. practice_id NULL marks a built-in exercise,
-- shared by every practice; versions are immutable, like instruments.
CREATE TABLE exercises (
    id          uuid        PRIMARY KEY,
    practice_id uuid        REFERENCES practices (id),
    key         text        NOT NULL,
    version     integer     NOT NULL CHECK (version >= 1),
    title       text        NOT NULL,
    target      text        NOT NULL CHECK (target IN ('over_independence', 'over_dependence', 'both')),
    definition  jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX exercises_builtin_version_idx ON exercises (key, version) WHERE practice_id IS NULL;
CREATE UNIQUE INDEX exercises_practice_version_idx ON exercises (practice_id, key, version)
    WHERE practice_id IS NOT NULL;
