CREATE FUNCTION @extschema@._a256cbc_hs512_encrypt(
    p_key bytea, p_iv bytea, p_plaintext bytea, p_aad bytea)
RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    v_ciphertext bytea;
BEGIN
    -- AES_256_CBC_HMAC_SHA_512 of RFC 7518 section 5.2.5: returns E || T.
    -- The 64-byte key is MAC_KEY (first 32 bytes) || ENC_KEY (last 32 bytes).
    -- Raises 22023 for a key or IV of the wrong size.
    IF length(p_key) <> 64 OR length(p_iv) <> 16 THEN
        RAISE EXCEPTION 'A256CBC-HS512 needs a 64-byte key and a 16-byte IV'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Data keys are 64 random bytes; the IV is 16 random bytes.';
    END IF;
    v_ciphertext := @extschema@._pgcrypto_encrypt_iv(
        p_plaintext, substr(p_key, 33, 32), p_iv, 'aes-cbc/pad:pkcs');
    RETURN v_ciphertext || substr(@extschema@._pgcrypto_hmac(
        p_aad || p_iv || v_ciphertext || int8send(length(p_aad)::bigint * 8),
        substr(p_key, 1, 32), 'sha512'), 1, 32);
END
$$;

