CREATE FUNCTION @extschema@._audit_autonomous(
    p_action text, p_target text, p_succeeded boolean, p_details jsonb DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_target  text;
    v_sql     text;
    v_message text;
BEGIN
    -- Appends an audit row in a transaction of its own, committed before
    -- this returns, so that it survives a rollback of the caller's
    -- transaction: failed ingests, PHI reveals and lookups, refusals. An
    -- autonomous transaction through a dblink loopback connection to this
    -- database (vcf._audit_loopback), as the extension owner; the context
    -- columns (time, session user, acting role, client address, backend pid)
    -- are those of this backend. Raises VP070 when the row cannot be written;
    -- callers that disclose something must then refuse.
    IF @extschema@._audit_chain_lock_held() THEN
        RAISE EXCEPTION 'cannot write an autonomous audit row: this transaction holds the audit chain lock'
            USING ERRCODE = 'VP070',
                  HINT = 'Do not make the constraint trigger audit_log_seal IMMEDIATE (SET CONSTRAINTS) before this call.';
    END IF;
    v_target := @extschema@._audit_loopback();
    -- dblink_exec takes its first argument for a connection name when one of
    -- this session's connections has it, truncated to a name's 63 bytes: a
    -- caller's connection named so would receive the row instead.
    IF v_target::name::text = ANY (@extschema@._dblink_connection_names()) THEN
        RAISE EXCEPTION 'cannot write an autonomous audit row: a dblink connection of this session is named like the audit loopback'
            USING ERRCODE = 'VP070', HINT = 'Close it with dblink_disconnect and retry.';
    END IF;
    v_sql := format(
        'BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = %L; SET LOCAL statement_timeout = %L;'
        ' SELECT @extschema@._audit_insert(%L::timestamptz, %L::name, %L::name, %L::inet, %s, %L, %L, %L::boolean, %L::jsonb);'
        ' COMMIT',
        '30s', '60s',
        to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        session_user, @extschema@._audit_actor(), inet_client_addr(), pg_backend_pid(),
        p_action, p_target, p_succeeded, coalesce(p_details, '{}'::jsonb));
    BEGIN
        PERFORM @extschema@._dblink_exec(v_target, v_sql);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT;
        RAISE EXCEPTION 'cannot write an autonomous audit row: %', v_message
            USING ERRCODE = 'VP070',
                  HINT = 'The extension owner must reach this database through dblink: see "Audit loopback" in docs/security.md.';
    END;
END
$$;
