CREATE FUNCTION @extschema@._commit_apart(p_statement text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_target  text;
    v_message text;
BEGIN
    -- Runs p_statement (a call of one of the extension's own functions, with
    -- its arguments as literals) in a transaction of its own, committed
    -- before this returns, through the audit's dblink loopback connection
    -- (vcf._audit_loopback: this database, as the extension owner). Used by
    -- a concurrent ingest for the rows it shares with other files, so that
    -- an ingest of another file never waits on them until this one commits.
    -- The statement carries no plaintext PHI and no key: sample names go
    -- already encrypted. Raises VP053 when it cannot be run there.
    v_target := @extschema@._audit_loopback();
    IF v_target::name::text = ANY (@extschema@._dblink_connection_names()) THEN
        RAISE EXCEPTION 'cannot commit shared rows apart: a dblink connection of this session is named like the audit loopback'
            USING ERRCODE = 'VP053', HINT = 'Close it with dblink_disconnect and retry.';
    END IF;
    BEGIN
        -- the loopback is the owner's session: a setting of the owner's
        -- must not make it send the rows on again
        PERFORM @extschema@._dblink_exec(v_target, format(
            'BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = %L;'
            ' SET LOCAL statement_timeout = %L; SET LOCAL vcf_pg_loader.ingest_concurrent_now = off;'
            ' %s; COMMIT', '60s', '600s', p_statement));
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT;
        RAISE EXCEPTION 'cannot commit shared rows apart: %', left(v_message, 500)
            USING ERRCODE = 'VP053',
                  HINT = 'The extension owner must reach this database through dblink: see "Audit loopback" in docs/security.md; or ingest without vcf_pg_loader.ingest_concurrent.';
    END;
END
$$;
