-- Wrappers around the dblink functions the audit trail needs, with dblink's
-- schema named explicitly (found now, at install time), so that dblink may
-- live in any schema and SECURITY DEFINER callers need no search_path. They
-- are used only by vcf._audit_autonomous, which runs as the extension owner.
DO $bindings$
DECLARE
    v_schema name;
BEGIN
    SELECT n.nspname INTO STRICT v_schema
      FROM pg_catalog.pg_extension e
      JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'dblink';

    EXECUTE format($f$
        CREATE FUNCTION @extschema@._dblink_exec(p_target text, p_sql text)
        RETURNS text LANGUAGE sql VOLATILE STRICT
        AS 'SELECT %I.dblink_exec($1, $2)'$f$, v_schema);
    EXECUTE format($f$
        CREATE FUNCTION @extschema@._dblink_connection_names()
        RETURNS text[] LANGUAGE sql VOLATILE
        AS 'SELECT coalesce(%I.dblink_get_connections(), ''{}'')'$f$, v_schema);
END
$bindings$;
