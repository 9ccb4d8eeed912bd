CREATE FUNCTION @extschema@._seal(
    p_key bytea, p_key_id uuid, p_plaintext bytea, p_context text)
RETURNS bytea
LANGUAGE plpgsql VOLATILE STRICT PARALLEL SAFE
AS $$
DECLARE
    v_prefix bytea := '\x01'::bytea || uuid_send(p_key_id);
    v_iv     bytea := @extschema@._pgcrypto_gen_random_bytes(16);
BEGIN
    -- The stored ciphertext format (version 1), shared with the control plane:
    --   0x01 || key id (16) || IV (16) || AES-CBC ciphertext || tag (32)
    -- The associated data is version || key id || the UTF-8 context, which
    -- names where the value belongs (table, column, row), so a ciphertext
    -- copied elsewhere does not decrypt.
    RETURN v_prefix || v_iv || @extschema@._a256cbc_hs512_encrypt(
        p_key, v_iv, p_plaintext, v_prefix || convert_to(p_context, 'UTF8'));
END
$$;

