CREATE FUNCTION @extschema@.audit_export(
    p_since timestamptz DEFAULT NULL, p_after_chain_no bigint DEFAULT NULL)
RETURNS SETOF @extschema@.audit_log
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- The chained rows of the audit trail, in chain order, with their hashes:
    -- those logged at or after p_since and/or after chain position
    -- p_after_chain_no (a contiguous continuation of an earlier export). The
    -- export itself is audited ('audit_export') in the caller's transaction.
    -- SECURITY DEFINER: no role but the owner has privileges on the table.
    PERFORM @extschema@._audit('audit_export', NULL, true,
        jsonb_strip_nulls(jsonb_build_object('since', p_since, 'after_chain_no', p_after_chain_no)));
    RETURN QUERY
        SELECT a.* FROM @extschema@.audit_log a
         WHERE a.chain_no IS NOT NULL
           AND (p_since IS NULL OR a.logged_at >= p_since)
           AND (p_after_chain_no IS NULL OR a.chain_no > p_after_chain_no)
         ORDER BY a.chain_no;
END
$$;
