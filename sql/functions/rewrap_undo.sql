CREATE FUNCTION @extschema@.rewrap_undo(p_key_id uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_row @extschema@.data_keys%ROWTYPE;
BEGIN
    -- Puts back the wrapped form that a rewrap proven only by the key
    -- admin's client replaced (vcf.data_keys.previous_*): the way back when
    -- the current form does not unwrap (a rewrap from SQL with the real key
    -- as proof and a wrong wrapped form, a KMS key disabled too early). The
    -- current form is dropped; nothing is kept for another undo. No data is
    -- touched. Audited ('rewrap_undo', from/to provider and KEK id); a
    -- refusal in an autonomous transaction.
    -- SECURITY DEFINER: key admins read vcf.data_keys but may not write it.
    -- Raises VP002 (no such key), VP060 (destroyed), VP064 (no wrapped form
    -- kept: the current one was proven by the server, or never rewrapped).
    SELECT * INTO v_row FROM @extschema@.data_keys WHERE key_id = p_key_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'data key % does not exist', p_key_id
            USING ERRCODE = 'VP002', HINT = 'List keys with "vcfctl keys list".';
    END IF;
    IF v_row.state = 'destroyed' THEN
        RAISE EXCEPTION 'data key % has been destroyed; there is nothing to undo', p_key_id
            USING ERRCODE = 'VP060', HINT = 'Destroyed keys stay destroyed.';
    END IF;
    IF v_row.previous_wrapped_key IS NULL THEN
        PERFORM @extschema@._audit_autonomous_try('rewrap_undo', p_key_id::text, false,
            jsonb_build_object('sqlstate', 'VP064', 'kek_id', v_row.kek_id));
        RAISE EXCEPTION 'data key % keeps no earlier wrapped form to put back', p_key_id
            USING ERRCODE = 'VP064',
                  HINT = 'Only a rewrap that the server did not prove keeps the form it replaced, '
                         'until the server unwraps the new one.';
    END IF;
    UPDATE @extschema@.data_keys
       SET provider = previous_provider, kek_id = previous_kek_id,
           wrapped_key = previous_wrapped_key,
           previous_provider = NULL, previous_kek_id = NULL,
           previous_wrapped_key = NULL, previous_replaced_at = NULL
     WHERE key_id = p_key_id;
    PERFORM @extschema@._audit('rewrap_undo', p_key_id::text, true,
        jsonb_build_object('purpose', v_row.purpose,
                           'from_provider', v_row.provider, 'from_kek_id', v_row.kek_id,
                           'to_provider', v_row.previous_provider,
                           'to_kek_id', v_row.previous_kek_id,
                           'replaced_at', v_row.previous_replaced_at));
END
$$;
