CREATE FUNCTION @extschema@._audit_canonical(p_row @extschema@.audit_log)
RETURNS text
LANGUAGE sql STABLE
-- The canonical encoding of an audit row that its hash covers: every column
-- but prev_hash (hashed beside it) and hash itself, as the text of a jsonb
-- array, which PostgreSQL prints deterministically (strings escaped, object
-- keys sorted). Times are UTC with microseconds, independent of settings.
RETURN pg_catalog.jsonb_build_array(
    'vcf-pg-loader audit v1',
    p_row.audit_id,
    p_row.chain_no,
    pg_catalog.to_char(p_row.logged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    p_row.session_role::text,
    p_row.acting_role::text,
    p_row.client_addr::text,
    p_row.backend_pid,
    p_row.xact_id::text,
    p_row.action,
    p_row.target,
    p_row.succeeded,
    p_row.details)::text;
