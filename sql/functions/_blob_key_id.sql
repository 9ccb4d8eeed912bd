CREATE FUNCTION @extschema@._blob_key_id(p_blob bytea)
RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
-- The key id that a stored ciphertext names (bytes 2 to 17).
RETURN CASE WHEN length(p_blob) >= 17
            THEN encode(substr(p_blob, 2, 16), 'hex')::uuid END;

