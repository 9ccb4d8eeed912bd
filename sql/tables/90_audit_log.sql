-- Append-only, hash-chained audit trail. Never contains PHI or key material.
--
-- A row is inserted by vcf._audit_insert (through vcf._audit in the caller's
-- transaction, or through vcf._audit_autonomous in a transaction of its own)
-- with chain_no, prev_hash and hash NULL: it is visible to its own
-- transaction at once. When that transaction commits, the deferred trigger
-- audit_log_seal (vcf._audit_seal) takes the chain lock and links the row to
-- the chain head: chain_no = head + 1, prev_hash = the head's hash, hash =
-- sha256(prev_hash || vcf._audit_canonical(row)). The chain lock is held
-- from then until the commit ends, so writers never wait for each other's
-- long transactions and the chain never forks (chain_no is also unique).
-- Triggers refuse UPDATE (except that one sealing step), DELETE, TRUNCATE
-- and inserts with a hash that does not match the row.
CREATE TABLE @extschema@.audit_log (
    audit_id     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chain_no     bigint
        CONSTRAINT audit_log_chain_no_unique UNIQUE
        CONSTRAINT audit_log_chain_no_positive CHECK (chain_no > 0),
    logged_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    session_role name        NOT NULL DEFAULT session_user,
    acting_role  name        NOT NULL DEFAULT session_user,
    client_addr  inet        DEFAULT inet_client_addr(),
    backend_pid  integer     NOT NULL DEFAULT pg_backend_pid(),
    xact_id      xid8        NOT NULL DEFAULT pg_current_xact_id(),
    action       text        NOT NULL,
    target       text,
    succeeded    boolean     NOT NULL,
    details      jsonb       NOT NULL DEFAULT '{}',
    prev_hash    bytea
        CONSTRAINT audit_log_prev_hash_is_32_bytes CHECK (length(prev_hash) = 32),
    hash         bytea
        CONSTRAINT audit_log_hash_is_32_bytes CHECK (length(hash) = 32),
    CONSTRAINT audit_log_sealed_whole
        CHECK ((chain_no IS NULL) = (hash IS NULL) AND (hash IS NULL) = (prev_hash IS NULL))
);
COMMENT ON TABLE @extschema@.audit_log IS
    'Append-only, hash-chained audit trail; never contains PHI or key material';
COMMENT ON COLUMN @extschema@.audit_log.chain_no IS
    'Position in the hash chain (1, 2, ...), assigned when the writing transaction commits';
COMMENT ON COLUMN @extschema@.audit_log.acting_role IS
    'The role the caller acted as (SET ROLE, else the session user)';
COMMENT ON COLUMN @extschema@.audit_log.xact_id IS
    'Top-level transaction that wrote the row';
COMMENT ON COLUMN @extschema@.audit_log.hash IS
    'sha256(prev_hash || vcf._audit_canonical(row)); the first row''s prev_hash is 32 zero bytes';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.audit_log_audit_id_seq', '');
