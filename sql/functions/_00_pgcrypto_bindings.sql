-- Thin, inlinable wrappers around the pgcrypto functions we use. pgcrypto may
-- live in any schema (CASCADE puts it in the creation schema, DBAs often have
-- it in public); SECURITY DEFINER code runs with search_path = pg_catalog, so
-- it calls these wrappers, which name pgcrypto's schema explicitly.
DO $bindings$
DECLARE
    v_schema name;
BEGIN
    SELECT n.nspname INTO STRICT v_schema
      FROM pg_catalog.pg_extension e
      JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pgcrypto';

    EXECUTE format($f$
        CREATE FUNCTION @extschema@._pgcrypto_encrypt_iv(bytea, bytea, bytea, text)
        RETURNS bytea LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        AS 'SELECT %I.encrypt_iv($1, $2, $3, $4)'$f$, v_schema);
    EXECUTE format($f$
        CREATE FUNCTION @extschema@._pgcrypto_decrypt_iv(bytea, bytea, bytea, text)
        RETURNS bytea LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        AS 'SELECT %I.decrypt_iv($1, $2, $3, $4)'$f$, v_schema);
    EXECUTE format($f$
        CREATE FUNCTION @extschema@._pgcrypto_hmac(bytea, bytea, text)
        RETURNS bytea LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        AS 'SELECT %I.hmac($1, $2, $3)'$f$, v_schema);
    EXECUTE format($f$
        CREATE FUNCTION @extschema@._pgcrypto_gen_random_bytes(integer)
        RETURNS bytea LANGUAGE sql VOLATILE STRICT PARALLEL SAFE
        AS 'SELECT %I.gen_random_bytes($1)'$f$, v_schema);
END
$bindings$;

