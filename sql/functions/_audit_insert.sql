CREATE FUNCTION @extschema@._audit_insert(
    p_logged_at timestamptz, p_session_role name, p_acting_role name, p_client_addr inet,
    p_backend_pid integer, p_action text, p_target text, p_succeeded boolean, p_details jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_audit_id bigint;
BEGIN
    -- The one writer of vcf.audit_log. Inserts the row unchained and queues
    -- it (vcf.audit_seal_queue), whose deferred trigger audit_log_seal links
    -- it to the chain when the transaction commits. Called by vcf._audit (caller's transaction) and,
    -- through the dblink loopback, by vcf._audit_autonomous (a transaction of
    -- its own); the context columns come from the calling backend, never
    -- from a client. Owner only. Raises 23502 for a NULL action or outcome.
    INSERT INTO @extschema@.audit_log
        (logged_at, session_role, acting_role, client_addr, backend_pid,
         action, target, succeeded, details)
    VALUES (p_logged_at, p_session_role, p_acting_role, p_client_addr, p_backend_pid,
            p_action, p_target, p_succeeded, coalesce(p_details, '{}'::jsonb))
    RETURNING audit_id INTO v_audit_id;
    INSERT INTO @extschema@.audit_seal_queue (audit_id) VALUES (v_audit_id);
    RETURN v_audit_id;
END
$$;
