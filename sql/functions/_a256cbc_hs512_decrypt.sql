CREATE FUNCTION @extschema@._a256cbc_hs512_decrypt(
    p_key bytea, p_iv bytea, p_ciphertext_and_tag bytea, p_aad bytea)
RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    v_len        integer := length(p_ciphertext_and_tag);
    v_ciphertext bytea;
BEGIN
    -- Inverse of _a256cbc_hs512_encrypt. Returns NULL when the input is
    -- malformed or the tag does not verify, so that callers can name what
    -- failed (a block, a value) in their own error. Never decrypts before
    -- the tag has been checked.
    IF length(p_key) <> 64 OR length(p_iv) <> 16
       OR v_len < 48 OR (v_len - 32) % 16 <> 0 THEN
        RETURN NULL;
    END IF;
    v_ciphertext := substr(p_ciphertext_and_tag, 1, v_len - 32);
    IF substr(@extschema@._pgcrypto_hmac(
            p_aad || p_iv || v_ciphertext || int8send(length(p_aad)::bigint * 8),
            substr(p_key, 1, 32), 'sha512'), 1, 32)
       <> substr(p_ciphertext_and_tag, v_len - 31, 32) THEN
        RETURN NULL;
    END IF;
    RETURN @extschema@._pgcrypto_decrypt_iv(
        v_ciphertext, substr(p_key, 33, 32), p_iv, 'aes-cbc/pad:pkcs');
END
$$;

