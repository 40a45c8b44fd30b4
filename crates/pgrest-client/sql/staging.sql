-- Staging store for knack-services: schema `api`, exposed by PostgREST.
-- Idempotent: safe to run again on a database that already has it (also upgrades the original
-- atd-knack-services schema, which lacked the `id` paging column).
-- Apply with:  psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f staging.sql   or   aks db init

CREATE SCHEMA IF NOT EXISTS api;

CREATE TABLE IF NOT EXISTS api.knack (
    record_id    text NOT NULL,
    app_id       text NOT NULL,
    container_id text NOT NULL,
    record       json NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT knack_pkey PRIMARY KEY (app_id, container_id, record_id)
);

-- Stable, cheap keyset paging: PostgREST readers order by id and ask for id > last seen.
ALTER TABLE api.knack ADD COLUMN IF NOT EXISTS id bigint GENERATED ALWAYS AS IDENTITY;

DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_constraint
        WHERE conname = 'knack_id_key' AND conrelid = 'api.knack'::regclass
    ) THEN
        ALTER TABLE api.knack ADD CONSTRAINT knack_id_key UNIQUE (id);
    END IF;
END
$$;

CREATE INDEX IF NOT EXISTS knack_container_id_idx ON api.knack (container_id);

CREATE TABLE IF NOT EXISTS api.knack_metadata (
    app_id   text PRIMARY KEY,
    metadata json NOT NULL
);

-- updated_at is the time the row was last written here (not Knack's modified date): downstream
-- incremental runs filter on it. The function lives outside `api` so PostgREST does not expose it.
CREATE OR REPLACE FUNCTION public.trigger_set_updated_at() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS set_updated_at ON api.knack;
CREATE TRIGGER set_updated_at
    BEFORE INSERT OR UPDATE ON api.knack
    FOR EACH ROW EXECUTE FUNCTION public.trigger_set_updated_at();

-- Where each stage of `aks` got to, per container and destination. `watermark` is a time by the
-- database's clock (the updated_at of the write that opened the run): the next incremental run of
-- the stage reads from there. `last_result` is 'running' while a run is under way. A destination
-- `knack:<app name>` is the copy of the container into another Knack app (records-to-knack).
CREATE TABLE IF NOT EXISTS api.knack_sync_state (
    app_id       text NOT NULL,
    container_id text NOT NULL,
    destination  text NOT NULL CONSTRAINT knack_sync_state_destination_check
                     CHECK (destination IN ('postgrest', 'socrata', 'agol')
                            OR destination LIKE 'knack:_%'),
    watermark    timestamptz,
    last_run_at  timestamptz,
    last_result  text,
    last_report  jsonb,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT knack_sync_state_pkey PRIMARY KEY (app_id, container_id, destination)
);

-- A table created before Knack destinations were tracked allows only the first three: widen its
-- check in place, once (its rows all pass the wider one).
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_constraint
        WHERE conname = 'knack_sync_state_destination_check'
          AND conrelid = 'api.knack_sync_state'::regclass
          AND pg_get_constraintdef(oid) LIKE '%knack:%'
    ) THEN
        ALTER TABLE api.knack_sync_state DROP CONSTRAINT IF EXISTS knack_sync_state_destination_check;
        ALTER TABLE api.knack_sync_state ADD CONSTRAINT knack_sync_state_destination_check
            CHECK (destination IN ('postgrest', 'socrata', 'agol') OR destination LIKE 'knack:_%');
    END IF;
END
$$;

DROP TRIGGER IF EXISTS set_updated_at ON api.knack_sync_state;
CREATE TRIGGER set_updated_at
    BEFORE INSERT OR UPDATE ON api.knack_sync_state
    FOR EACH ROW EXECUTE FUNCTION public.trigger_set_updated_at();

-- What each stage's last successful run was computed from (its schema fingerprint: the container's
-- fields as the metadata defines them and, for a publisher, the destination's columns or fields),
-- in the stage's own row, so a sync learns it from the upsert that opens the stage and stores it
-- with the one that closes it: no request more. `aks sync` compares it on every run: a change
-- reloads or republishes in full. `schema_change` says what changed last (null before any change)
-- and `schema_changed_at` when (the start of the run that found it, by the database's clock).
ALTER TABLE api.knack_sync_state
    ADD COLUMN IF NOT EXISTS schema_fingerprint jsonb,
    ADD COLUMN IF NOT EXISTS schema_change      text,
    ADD COLUMN IF NOT EXISTS schema_changed_at  timestamptz;

-- The previous release kept the fingerprints in a table of their own, api.knack_schema, keyed as
-- knack_sync_state: move them into the matching rows (a row already holding one keeps it), then
-- drop that table. Applied again, there is no table left and nothing happens.
DO $$
BEGIN
    IF to_regclass('api.knack_schema') IS NOT NULL THEN
        UPDATE api.knack_sync_state s
        SET schema_fingerprint = k.fingerprint,
            schema_change = k.last_change,
            schema_changed_at = CASE WHEN k.last_change IS NOT NULL THEN k.updated_at END
        FROM api.knack_schema k
        WHERE s.app_id = k.app_id
          AND s.container_id = k.container_id
          AND s.destination = k.destination
          AND s.schema_fingerprint IS NULL;
        DROP TABLE api.knack_schema;
    END IF;
END
$$;

-- PostgREST roles (cluster-wide, so created only when missing). Names match the original deployment,
-- whose JWTs carry {"role": "my_api_user"}. Give the authenticator a password separately:
--   ALTER ROLE authenticator PASSWORD '...';
-- Another database on the same cluster may be running this script at the same moment: a role created
-- or granted concurrently is not an error.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM (VALUES
        ('authenticator', 'LOGIN NOINHERIT'),
        ('my_api_user', 'NOLOGIN'),
        ('web_anon', 'NOLOGIN')) AS t(name, opts)
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I %s', r.name, r.opts);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
    FOR r IN SELECT * FROM (VALUES ('my_api_user'), ('web_anon')) AS t(name) LOOP
        IF NOT pg_has_role('authenticator', r.name, 'MEMBER') THEN
            BEGIN
                EXECUTE format('GRANT %I TO authenticator', r.name);
            EXCEPTION WHEN OTHERS THEN
                IF NOT pg_has_role('authenticator', r.name, 'MEMBER') THEN
                    RAISE;
                END IF;
            END;
        END IF;
    END LOOP;
END
$$;

GRANT USAGE ON SCHEMA api TO my_api_user, web_anon;
GRANT SELECT, INSERT, UPDATE, DELETE ON api.knack, api.knack_metadata, api.knack_sync_state TO my_api_user;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA api TO my_api_user;
-- The anonymous role may see the schema but no table.
REVOKE ALL ON api.knack, api.knack_metadata, api.knack_sync_state FROM web_anon;
