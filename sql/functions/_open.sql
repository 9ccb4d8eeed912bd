CREATE FUNCTION @extschema@._open(p_key bytea, p_blob bytea, p_context text)
RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
BEGIN
    -- Inverse of _seal. NULL when the blob is not version 1, is cut short,
    -- was made for another context or key, or was modified.
    IF length(p_blob) < 81 OR get_byte(p_blob, 0) <> 1 THEN
        RETURN NULL;
    END IF;
    RETURN @extschema@._a256cbc_hs512_decrypt(
        p_key, substr(p_blob, 18, 16), substr(p_blob, 34),
        substr(p_blob, 1, 17) || convert_to(p_context, 'UTF8'));
END
$$;

