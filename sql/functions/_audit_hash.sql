CREATE FUNCTION @extschema@._audit_hash(p_row @extschema@.audit_log)
RETURNS bytea
LANGUAGE sql STABLE
-- The hash of a chained audit row: sha256(prev_hash || UTF-8 canonical encoding).
RETURN pg_catalog.sha256(
    p_row.prev_hash || pg_catalog.convert_to(@extschema@._audit_canonical(p_row), 'UTF8'));
