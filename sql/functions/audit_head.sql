CREATE FUNCTION @extschema@.audit_head()
RETURNS TABLE (chain_no bigint, audit_id bigint, hash bytea, logged_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- The head of the audit hash chain (no row when the chain is empty): what
-- vcfctl audit anchor writes out so that a later rewrite of the whole table
-- is detectable. SECURITY DEFINER: auditors do not read the table itself.
BEGIN ATOMIC
    SELECT a.chain_no, a.audit_id, a.hash, a.logged_at
      FROM @extschema@.audit_log a
     WHERE a.chain_no IS NOT NULL
     ORDER BY a.chain_no DESC
     LIMIT 1;
END;
