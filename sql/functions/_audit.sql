CREATE FUNCTION @extschema@._audit(
    p_action text, p_target text, p_succeeded boolean, p_details jsonb DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    -- Appends an audit row in the caller's transaction: it is visible at once
    -- to that transaction, chained when it commits, and gone if it rolls back.
    -- For what must be recorded even then (failures, PHI reveals) use
    -- vcf._audit_autonomous. Called by the extension's SECURITY DEFINER
    -- functions; granted to no one.
    PERFORM @extschema@._audit_insert(
        clock_timestamp(), session_user, @extschema@._audit_actor(), inet_client_addr(),
        pg_backend_pid(), p_action, p_target, p_succeeded, p_details);
END
$$;
