CREATE FUNCTION @extschema@.session_fail(p_session_id uuid, p_reason text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_owner  name;
    v_reason text;
BEGIN
    -- Records that an ingest failed, after its transaction rolled back:
    -- vcfctl calls it so that the session shows as failed, with the
    -- extension's own message (ids and counts, no PHI), and cannot be
    -- ingested again. Only the login that staged the session may fail it
    -- (42501 otherwise, audited in an autonomous transaction). What the
    -- free-text reason can put into the audit trail is bounded: one line
    -- (control characters become spaces), at most 500 characters, once per
    -- session (a failed session cannot fail again). Raises VP001 for an
    -- unknown session, 42501, VP010 for one not staged.
    SELECT s.created_by INTO v_owner FROM @extschema@.sessions s
     WHERE s.session_id = p_session_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'session % does not exist', p_session_id
            USING ERRCODE = 'VP001', HINT = 'List sessions with "vcfctl sessions list".';
    END IF;
    IF v_owner IS DISTINCT FROM session_user THEN
        PERFORM @extschema@._audit_autonomous_try('fail', p_session_id::text, false,
            jsonb_build_object('refused', 'not the session owner', 'owner', v_owner));
        RAISE EXCEPTION 'permission denied to fail session %: it was staged by another login', p_session_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only the login that staged a session may mark it failed; a DBA may purge it.';
    END IF;
    v_reason := left(btrim(regexp_replace(coalesce(p_reason, ''), '[[:cntrl:]]+', ' ', 'g')), 500);
    UPDATE @extschema@.sessions
       SET state = 'failed', error = nullif(v_reason, ''), finished_at = clock_timestamp()
     WHERE session_id = p_session_id AND state IN ('staging', 'staged');
    IF NOT FOUND THEN
        RAISE EXCEPTION 'session % is not staged; only a staged session can fail', p_session_id
            USING ERRCODE = 'VP010', HINT = 'See "vcfctl sessions show".';
    END IF;
    PERFORM @extschema@._audit('ingest', p_session_id::text, false,
                               jsonb_strip_nulls(jsonb_build_object('error', nullif(v_reason, ''))));
END
$$;
