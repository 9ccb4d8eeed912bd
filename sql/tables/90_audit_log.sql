-- Append-only audit trail (hash chain comes later): rows are written only by
-- vcf._audit; UPDATE, DELETE and TRUNCATE are refused by triggers.
CREATE TABLE @extschema@.audit_log (
    audit_id     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    logged_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    session_role name        NOT NULL DEFAULT session_user,
    client_addr  inet        DEFAULT inet_client_addr(),
    action       text        NOT NULL,
    target       text,
    succeeded    boolean     NOT NULL,
    details      jsonb       NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE @extschema@.audit_log IS 'Append-only audit trail; never contains PHI or key material';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.audit_log_audit_id_seq', '');

