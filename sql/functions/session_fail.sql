CREATE FUNCTION @extschema@.session_fail(p_session_id uuid, p_reason text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Records that an ingest failed, after its transaction rolled back. The
    -- reason is one of the extension's own messages (ids and counts, no PHI).
    UPDATE @extschema@.sessions
       SET state = 'failed', error = left(p_reason, 1000), finished_at = clock_timestamp()
     WHERE session_id = p_session_id AND state IN ('staging', 'staged');
    PERFORM @extschema@._audit('ingest', p_session_id::text, false,
                               jsonb_build_object('error', left(p_reason, 1000)));
END
$$;

