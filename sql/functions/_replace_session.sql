CREATE FUNCTION @extschema@._replace_session(p_old uuid, p_new uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_winner uuid;
BEGIN
    -- A reload: removes the records, calls, lines and sample columns of an
    -- ingested session, in the transaction that ingests its replacement,
    -- and marks it 'replaced' (before the replacement becomes 'ingested',
    -- so the unique index sessions_one_ingested_per_content is satisfied).
    -- Shared variants and samples stay. Of two reloads of the same session
    -- that overlap, the second waits here for the first to commit; it then
    -- gets VP050 naming the session that now holds the content. Raises VP051
    -- when the old session is no longer ingested and no other session holds
    -- its content.
    UPDATE @extschema@.sessions SET state = 'replaced'
     WHERE session_id = p_old AND state = 'ingested';
    IF NOT FOUND THEN
        SELECT w.session_id INTO v_winner
          FROM @extschema@.sessions n
          JOIN @extschema@.sessions w ON w.content_sha256 = n.content_sha256
         WHERE n.session_id = p_new AND w.state = 'ingested' AND w.session_id <> p_new;
        IF FOUND THEN
            RAISE EXCEPTION 'this content is already loaded as session %', v_winner
                USING ERRCODE = 'VP050', DETAIL = v_winner::text,
                      HINT = 'Another reload replaced session ' || p_old || ' first; nothing was written.';
        END IF;
        RAISE EXCEPTION 'session % is no longer ingested; nothing to replace', p_old
            USING ERRCODE = 'VP051', HINT = 'Stage the file again with --reload.';
    END IF;
    DELETE FROM @extschema@.records WHERE session_id = p_old;
    DELETE FROM @extschema@.record_lines WHERE session_id = p_old;
    DELETE FROM @extschema@.session_samples WHERE session_id = p_old;
    PERFORM @extschema@._audit('reload', p_old::text, true,
                               jsonb_build_object('replaced_by', p_new));
END
$$;
