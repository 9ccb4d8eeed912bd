CREATE FUNCTION @extschema@.rotate_begin(
    p_key_id uuid, p_provider text, p_kek_id text, p_wrapped_key bytea,
    p_encryption_context jsonb, p_key_check bytea)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_old uuid;
BEGIN
    -- Starts a PHI key rotation: the given wrapped key (made by a key
    -- provider, as for vcf.key_register) becomes the active PHI key, and the
    -- one it replaces becomes 'retiring': still read, no longer written.
    -- vcf.rotate_batch then moves the values. One rotation at a time.
    -- Returns the retiring key's id. Raises VP006 (no active PHI key),
    -- VP080 (a rotation is in progress), VP081 (the encryption context does
    -- not name this key as a PHI key).
    PERFORM @extschema@._lock('rotate');
    IF EXISTS (SELECT 1 FROM @extschema@.data_keys
                WHERE purpose = 'phi' AND state = 'retiring') THEN
        RAISE EXCEPTION 'a PHI key rotation is in progress'
            USING ERRCODE = 'VP080',
                  HINT = 'Finish it first: vcfctl keys rotate resumes it (or CALL vcf.rotate_phi_key()).';
    END IF;
    IF p_encryption_context->>'key_id' IS DISTINCT FROM p_key_id::text
       OR p_encryption_context->>'purpose' IS DISTINCT FROM 'phi' THEN
        RAISE EXCEPTION 'the encryption context of key % does not name it as a PHI key', p_key_id
            USING ERRCODE = 'VP081',
                  HINT = 'Make the key with the control plane (vcfctl keys rotate).';
    END IF;
    -- Ingests lock the active key's row (FOR SHARE) for their whole
    -- transaction, so this waits for them: no value is written under the
    -- old key once the rotation has begun.
    UPDATE @extschema@.data_keys SET state = 'retiring'
     WHERE purpose = 'phi' AND state = 'active'
    RETURNING key_id INTO v_old;
    IF v_old IS NULL THEN
        RAISE EXCEPTION 'there is no active PHI key'
            USING ERRCODE = 'VP006', HINT = 'Create one with "vcfctl keys init".';
    END IF;
    INSERT INTO @extschema@.data_keys
        (key_id, purpose, provider, kek_id, wrapped_key, encryption_context, key_check)
    VALUES (p_key_id, 'phi', p_provider, p_kek_id, p_wrapped_key, p_encryption_context, p_key_check);
    PERFORM @extschema@._audit('rotate_begin', p_key_id::text, true,
        jsonb_build_object('from_key', v_old, 'to_key', p_key_id,
                           'provider', p_provider, 'kek_id', p_kek_id,
                           'values', @extschema@._phi_values_using(v_old)));
    RETURN v_old;
END
$$;
