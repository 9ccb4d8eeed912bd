-- One row per staged file. PHI (source path, header) only as ciphertext:
-- the source path under the staging key while staged, under the PHI key after ingest.
-- A session whose content (sha256) was already ingested is refused at
-- stage_finish unless it is a reload; then `replaces` names the session whose
-- rows its ingest replaces (that one becomes 'replaced'). created_by, the
-- login that staged it, owns it: only that login may ingest or fail it
-- (a DBA may also purge it).
CREATE TABLE @extschema@.sessions (
    session_id     uuid        PRIMARY KEY,
    state          text        NOT NULL DEFAULT 'staging'
        CONSTRAINT sessions_state_known
        CHECK (state IN ('staging', 'staged', 'ingested', 'failed', 'purged', 'replaced')),
    staging_key_id uuid        NOT NULL REFERENCES @extschema@.data_keys (key_id),
    source_enc     bytea       NOT NULL,
    header_enc     bytea,
    content_sha256 bytea
        CONSTRAINT sessions_content_sha256_is_32_bytes CHECK (length(content_sha256) = 32),
    block_count    integer     CONSTRAINT sessions_block_count_not_negative CHECK (block_count >= 0),
    line_count     bigint      CONSTRAINT sessions_line_count_not_negative CHECK (line_count >= 0),
    manifest       bytea,
    replaces       uuid,
    records        bigint,
    variants       bigint,
    calls          bigint,
    samples        integer,
    warnings       jsonb       NOT NULL DEFAULT '[]',
    error          text,
    created_by     name        NOT NULL DEFAULT session_user,
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    staged_at      timestamptz,
    finished_at    timestamptz
);
-- Content identity is enforced here, not only checked at stage_finish: of two
-- ingests of the same content that overlap, the second one's final UPDATE
-- waits for the first to commit and then fails (vcf._ingest turns that into
-- VP050). A reload marks the session it replaces 'replaced' first, in the
-- same transaction, so it passes.
CREATE UNIQUE INDEX sessions_one_ingested_per_content ON @extschema@.sessions (content_sha256)
    WHERE state = 'ingested';
COMMENT ON TABLE @extschema@.sessions IS 'One staged file each; source path and header only encrypted';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.sessions', '');

