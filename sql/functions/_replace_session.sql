CREATE FUNCTION @extschema@._replace_session(p_old uuid, p_new uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    -- A reload: removes the records, calls, lines and sample columns of an
    -- ingested session, in the transaction that ingests its replacement,
    -- and marks it 'replaced'. Shared variants and samples stay. Raises
    -- VP051 when the old session is no longer ingested (replaced meanwhile).
    UPDATE @extschema@.sessions SET state = 'replaced'
     WHERE session_id = p_old AND state = 'ingested';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'session % is no longer ingested; nothing to replace', p_old
            USING ERRCODE = 'VP051', HINT = 'Stage the file again with --reload.';
    END IF;
    DELETE FROM @extschema@.calls WHERE session_id = p_old;
    DELETE FROM @extschema@.records WHERE session_id = p_old;
    DELETE FROM @extschema@.record_lines WHERE session_id = p_old;
    DELETE FROM @extschema@.session_samples WHERE session_id = p_old;
    PERFORM @extschema@._audit('reload', p_old::text, true,
                               jsonb_build_object('replaced_by', p_new));
END
$$;

