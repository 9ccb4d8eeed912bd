CREATE FUNCTION @extschema@.session_purge(p_session_id uuid)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_session @extschema@.sessions%ROWTYPE;
    v_by_dba  boolean := false;
BEGIN
    -- Removes what an unfinished session left: its staged blocks, and its
    -- staging key (destroyed, so any copy of the ciphertext is unreadable).
    -- Ingested sessions are refused (their data is loaded, not staged).
    -- A session belongs to the login that staged it (sessions.created_by);
    -- another login is refused (42501, audited in an autonomous transaction
    -- so the refusal survives the rollback) unless it is a DBA
    -- (vcf._is_dba), whose purge row then names the owner and says by_dba.
    -- Returns the session's state afterwards. Raises VP001, 42501, VP012.
    SELECT * INTO v_session FROM @extschema@.sessions
     WHERE session_id = p_session_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'session % does not exist', p_session_id
            USING ERRCODE = 'VP001', HINT = 'List sessions with "vcfctl sessions list".';
    END IF;
    IF v_session.created_by IS DISTINCT FROM session_user THEN
        v_by_dba := @extschema@._is_dba();
        IF NOT v_by_dba THEN
            PERFORM @extschema@._audit_autonomous_try('purge', p_session_id::text, false,
                jsonb_build_object('refused', 'not the session owner', 'owner', v_session.created_by));
            RAISE EXCEPTION 'permission denied to purge session %: it was staged by another login', p_session_id
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Only the login that staged a session, or a DBA (superuser or member of the extension owner''s role), may purge it.';
        END IF;
    END IF;
    IF v_session.state = 'ingested' THEN
        RAISE EXCEPTION 'session % is ingested; only unfinished sessions can be purged', p_session_id
            USING ERRCODE = 'VP012', HINT = 'Purge applies to sessions in state staging, staged or failed.';
    END IF;
    DELETE FROM @extschema@.staged_blocks WHERE session_id = p_session_id;
    PERFORM @extschema@._destroy_key(v_session.staging_key_id);
    UPDATE @extschema@.sessions
       SET state = CASE WHEN state = 'failed' THEN 'failed' ELSE 'purged' END,
           finished_at = coalesce(finished_at, clock_timestamp())
     WHERE session_id = p_session_id;
    PERFORM @extschema@._audit('purge', p_session_id::text, true,
        jsonb_build_object('previous_state', v_session.state, 'owner', v_session.created_by,
                           'by_dba', v_by_dba));
    RETURN CASE WHEN v_session.state = 'failed' THEN 'failed' ELSE 'purged' END;
END
$$;
