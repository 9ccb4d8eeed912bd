CREATE FUNCTION @extschema@.key_register(
    p_key_id uuid, p_purpose text, p_provider text, p_kek_id text,
    p_wrapped_key bytea, p_encryption_context jsonb, p_key_check bytea)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Records a wrapped data key made by a key provider in the control
    -- plane. Only the wrapped form and its key check value arrive here.
    -- Raises VP005 when a PHI key is already active.
    IF p_purpose = 'phi' AND @extschema@.active_phi_key_id() IS NOT NULL THEN
        RAISE EXCEPTION 'a PHI key is already active'
            USING ERRCODE = 'VP005',
                  HINT = 'Rotate keys instead of creating a second PHI key.';
    END IF;
    INSERT INTO @extschema@.data_keys
        (key_id, purpose, provider, kek_id, wrapped_key, encryption_context, key_check)
    VALUES (p_key_id, p_purpose, p_provider, p_kek_id, p_wrapped_key,
            p_encryption_context, p_key_check);
    PERFORM @extschema@._audit('key_register', p_key_id::text, true,
        jsonb_build_object('purpose', p_purpose, 'provider', p_provider, 'kek_id', p_kek_id));
    RETURN p_key_id;
END
$$;

