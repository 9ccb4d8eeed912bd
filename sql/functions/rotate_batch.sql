CREATE FUNCTION @extschema@.rotate_batch(p_limit integer DEFAULT 500)
RETURNS TABLE (from_key uuid, to_key uuid, rotated integer, remaining bigint, finished boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_old      uuid;
    v_new      uuid;
    v_old_key  bytea;
    v_new_key  bytea;
    v_row      record;
    v_plain    bytea;
    v_context  text;
    v_header   bytea;
    v_source   bytea;
    v_done     integer := 0;
BEGIN
    -- One batch of a PHI key rotation, in the caller's transaction: re-encrypts
    -- about p_limit PHI values (a session's header and path go together) from the retiring key to the active one (sample
    -- names with their blind indexes, then session headers and source paths),
    -- each checked against its associated data before it is re-sealed. When
    -- no value uses the retiring key any more it becomes 'retired'. Both keys
    -- must be unlocked in this transaction. Commit after each batch: an
    -- interrupted rotation loses at most the batch in flight, and the next
    -- call resumes. With no rotation in progress returns finished = true.
    -- Audited ('rotate_batch', 'rotate_finish'). Raises VP004 (a key is not
    -- unlocked), VP082 (a stored value does not decrypt), 22023 (p_limit < 1).
    IF p_limit IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION 'batch size must be at least 1, not %', p_limit
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT k.key_id INTO v_old FROM @extschema@.data_keys k
     WHERE k.purpose = 'phi' AND k.state = 'retiring' FOR UPDATE;
    v_new := @extschema@.active_phi_key_id();
    IF v_old IS NULL THEN
        RETURN QUERY SELECT NULL::uuid, v_new, 0, 0::bigint, true;
        RETURN;
    END IF;
    v_old_key := @extschema@._unlocked_key(v_old);
    v_new_key := @extschema@._unlocked_key(v_new);

    FOR v_row IN
        SELECT s.sample_id, s.name_enc FROM @extschema@.samples s
         WHERE substr(s.name_enc, 2, 16) = uuid_send(v_old)
         ORDER BY s.sample_id LIMIT p_limit FOR UPDATE
    LOOP
        v_context := format('vcf.samples.name:%s', v_row.sample_id);
        v_plain := @extschema@._open_or_refuse(v_old_key, v_row.name_enc, v_context,
                                               format('the name of sample %s', v_row.sample_id));
        UPDATE @extschema@.samples
           SET name_enc = @extschema@._seal(v_new_key, v_new, v_plain, v_context),
               blind_index = @extschema@._blind_index(v_new_key, convert_from(v_plain, 'UTF8'))
         WHERE sample_id = v_row.sample_id;
        v_done := v_done + 1;
    END LOOP;

    FOR v_row IN
        SELECT s.session_id, s.header_enc, s.source_enc FROM @extschema@.sessions s
         WHERE substr(s.header_enc, 2, 16) = uuid_send(v_old)
            OR substr(s.source_enc, 2, 16) = uuid_send(v_old)
         ORDER BY s.created_at, s.session_id LIMIT greatest(p_limit - v_done, 0) FOR UPDATE
    LOOP
        v_header := v_row.header_enc;
        v_source := v_row.source_enc;
        IF substr(v_header, 2, 16) = uuid_send(v_old) THEN
            v_context := format('vcf.sessions.header:%s', v_row.session_id);
            v_header := @extschema@._seal(v_new_key, v_new,
                @extschema@._open_or_refuse(v_old_key, v_header, v_context,
                                            format('the header of session %s', v_row.session_id)),
                v_context);
            v_done := v_done + 1;
        END IF;
        IF substr(v_source, 2, 16) = uuid_send(v_old) THEN
            v_context := format('vcf.sessions.source:%s', v_row.session_id);
            v_source := @extschema@._seal(v_new_key, v_new,
                @extschema@._open_or_refuse(v_old_key, v_source, v_context,
                                            format('the source path of session %s', v_row.session_id)),
                v_context);
            v_done := v_done + 1;
        END IF;
        UPDATE @extschema@.sessions SET header_enc = v_header, source_enc = v_source
         WHERE session_id = v_row.session_id;
    END LOOP;

    remaining := @extschema@._phi_values_using(v_old);
    from_key := v_old;
    to_key := v_new;
    rotated := v_done;
    finished := remaining = 0;
    PERFORM @extschema@._audit('rotate_batch', v_new::text, true,
        jsonb_build_object('from_key', v_old, 'to_key', v_new,
                           'rotated', v_done, 'remaining', remaining));
    IF finished THEN
        UPDATE @extschema@.data_keys SET state = 'retired', retired_at = clock_timestamp()
         WHERE key_id = v_old;
        PERFORM @extschema@._audit('rotate_finish', v_old::text, true,
            jsonb_build_object('from_key', v_old, 'to_key', v_new));
    END IF;
    RETURN NEXT;
END
$$;
