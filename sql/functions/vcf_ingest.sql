CREATE FUNCTION @extschema@.vcf_ingest(
    p_session_id uuid, engine text DEFAULT NULL, strict boolean DEFAULT NULL)
RETURNS TABLE (session_id uuid, records bigint, variants bigint, calls bigint,
               samples integer, state text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_engine        text;
    v_strict        boolean;
    v_sqlstate      text;
    v_message       text;
    v_details       jsonb;
    v_audit_message text;
BEGIN
    -- The SQL entry point of ingest: vcf._ingest as the extension owner
    -- (SECURITY DEFINER), in the caller's transaction. Options (named as
    -- the issue and docs name them): engine => 'plpython' | 'plpgsql' |
    -- 'auto' (default: plpython when the companion is installed) and
    -- strict => true (warnings are errors); when not given, the settings
    -- vcf_pg_loader.ingest_engine and vcf_pg_loader.ingest_strict (e.g. SET
    -- LOCAL in the same transaction) supply them. With the setting
    -- vcf_pg_loader.ingest_concurrent on (vcfctl load --jobs), the rows this
    -- file shares with others (variants, samples) are committed apart, block
    -- by block (vcf._share_variants), so that ingests of other files running
    -- at the same time never wait for this one; it needs READ COMMITTED
    -- (VP052) and the audit loopback (VP053). A failure, including a
    -- statement_timeout or a cancel (query_canceled, which WHEN OTHERS does
    -- not catch), is audited before it propagates, in an autonomous
    -- transaction (vcf._audit_autonomous), so that its audit row survives
    -- the rollback: an 'ingest' row with succeeded = false, the SQLSTATE and,
    -- for the extension's own VPxxx errors (which never quote file content)
    -- and permission refusals (42501, e.g. another login's session), the
    -- message. Re-raises the original error unchanged (VP001-VP051, 42501
    -- and others, see vcf._ingest); when the failure row itself cannot be
    -- written, raises VP070 instead, naming the original SQLSTATE.
    BEGIN
        v_engine := coalesce(engine,
                             nullif(current_setting('vcf_pg_loader.ingest_engine', true), ''));
        v_strict := coalesce(strict,
                             nullif(current_setting('vcf_pg_loader.ingest_strict', true), '')::boolean,
                             false);
        -- transaction-local, read by vcf._ingest_concurrent
        PERFORM set_config('vcf_pg_loader.ingest_concurrent_now',
            CASE WHEN coalesce(nullif(current_setting('vcf_pg_loader.ingest_concurrent', true), '')::boolean,
                               false)
                 THEN 'on' ELSE 'off' END, true);
        RETURN QUERY SELECT * FROM @extschema@._ingest(p_session_id, v_engine, v_strict);
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        GET STACKED DIAGNOSTICS v_sqlstate = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
        v_details := jsonb_strip_nulls(jsonb_build_object(
            'sqlstate', v_sqlstate,
            'error', CASE WHEN v_sqlstate LIKE 'VP%' OR v_sqlstate = '42501'
                          THEN left(v_message, 1000) END,
            'autonomous', true));
        BEGIN
            PERFORM @extschema@._audit_autonomous('ingest', p_session_id::text, false, v_details);
        EXCEPTION WHEN OTHERS OR query_canceled THEN
            GET STACKED DIAGNOSTICS v_audit_message = MESSAGE_TEXT;
            RAISE EXCEPTION 'the ingest failed with SQLSTATE % and its audit row could not be written', v_sqlstate
                USING ERRCODE = 'VP070',
                      DETAIL = format('ingest error: SQLSTATE %s%s; audit row: %s', v_sqlstate,
                                      CASE WHEN v_sqlstate LIKE 'VP%' THEN ': ' || left(v_message, 1000) ELSE '' END,
                                      left(v_audit_message, 500)),
                      HINT = 'Nothing of the session was written; the extension owner must reach this database through dblink: see "Audit loopback" in docs/security.md.';
        END;
        RAISE;
    END;
END
$$;
