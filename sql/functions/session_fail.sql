CREATE FUNCTION @extschema@.session_fail(p_session_id uuid, p_reason text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Records that an ingest failed, after its transaction rolled back. The
    -- reason is one of the extension's own messages (ids and counts, no PHI).
    -- Raises VP001 for an unknown session, VP010 for one not staged.
    UPDATE @extschema@.sessions
       SET state = 'failed', error = left(p_reason, 1000), finished_at = clock_timestamp()
     WHERE session_id = p_session_id AND state IN ('staging', 'staged');
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM @extschema@.sessions WHERE session_id = p_session_id) THEN
            RAISE EXCEPTION 'session % is not staged; only a staged session can fail', p_session_id
                USING ERRCODE = 'VP010', HINT = 'See "vcfctl sessions show".';
        END IF;
        RAISE EXCEPTION 'session % does not exist', p_session_id
            USING ERRCODE = 'VP001', HINT = 'List sessions with "vcfctl sessions list".';
    END IF;
    PERFORM @extschema@._audit('ingest', p_session_id::text, false,
                               jsonb_build_object('error', left(p_reason, 1000)));
END
$$;

