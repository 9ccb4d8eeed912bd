CREATE FUNCTION @extschema@.vcf_ingest(p_session_id uuid)
RETURNS TABLE (session_id uuid, records bigint, variants bigint, calls bigint,
               samples integer, state text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- The entry point for SQL clients: ingests one staged session in the
    -- caller's transaction (see vcf._ingest for what that does). SECURITY
    -- DEFINER: callers need no privilege on the tables, only the unlocked
    -- keys. Raises what vcf._ingest raises (VP001-VP040).
    RETURN QUERY SELECT * FROM @extschema@._ingest(p_session_id);
END
$$;

