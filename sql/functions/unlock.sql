CREATE FUNCTION @extschema@.unlock(p_key_id uuid, p_key bytea)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tls    record;
    v_row @extschema@.data_keys%ROWTYPE;
BEGIN
    -- Makes a plaintext data key usable by this extension until the current
    -- transaction ends. The key must arrive as a bind parameter; it is
    -- checked against the stored key check value before it is kept, and it
    -- is kept only in a transaction-local setting (never a table, never a
    -- session-wide setting). SECURITY DEFINER: callers need no privilege on
    -- vcf.data_keys. Raises VP009 (the connection is TCP without TLS: the
    -- key crossed the network in the clear; it is not used, not even
    -- checked), VP002 (unknown or destroyed key), VP003 (wrong key); every
    -- refusal is audited in an autonomous transaction first, so its row
    -- survives the caller's rollback.
    SELECT * INTO v_tls FROM @extschema@._transport_refusal();
    IF v_tls.refused IS NOT NULL THEN
        PERFORM @extschema@._audit_autonomous_try('unlock', p_key_id::text, false,
            jsonb_build_object('sqlstate', 'VP009', 'refused', v_tls.refused));
        RAISE EXCEPTION 'refusing to unlock data key % %', p_key_id, v_tls.why
            USING ERRCODE = 'VP009', HINT = v_tls.hint;
    END IF;
    SELECT * INTO v_row FROM @extschema@.data_keys WHERE key_id = p_key_id;
    IF NOT FOUND OR v_row.state = 'destroyed' THEN
        PERFORM @extschema@._audit_autonomous_try('unlock', p_key_id::text, false,
                                                  '{"sqlstate": "VP002"}');
        RAISE EXCEPTION 'data key % does not exist or has been destroyed', p_key_id
            USING ERRCODE = 'VP002',
                  HINT = 'List keys with "vcfctl keys list"; a destroyed key cannot be used again.';
    END IF;
    IF p_key IS NULL OR length(p_key) <> 64
       OR @extschema@._key_check(p_key) <> v_row.key_check THEN
        PERFORM @extschema@._audit_autonomous_try('unlock', p_key_id::text, false,
            jsonb_build_object('sqlstate', 'VP003', 'purpose', v_row.purpose));
        RAISE EXCEPTION 'wrong key material for data key %', p_key_id
            USING ERRCODE = 'VP003',
                  HINT = 'Unwrap the key with the provider that wrapped it (see vcf.data_keys.provider).';
    END IF;
    PERFORM set_config(@extschema@._key_setting(p_key_id), encode(p_key, 'hex'), true);
    PERFORM @extschema@._audit('unlock', p_key_id::text, true,
                               jsonb_build_object('purpose', v_row.purpose));
END
$$;

