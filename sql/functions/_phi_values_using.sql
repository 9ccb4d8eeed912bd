CREATE FUNCTION @extschema@._phi_values_using(p_key_id uuid)
RETURNS bigint
LANGUAGE sql STABLE
-- How many stored PHI values are encrypted under a key: sample names, and
-- the headers and source paths of sessions. Each ciphertext names its key
-- in bytes 2-17; the sample names are indexed on that.
BEGIN ATOMIC
    SELECT (SELECT count(*) FROM @extschema@.samples s
             WHERE substr(s.name_enc, 2, 16) = uuid_send(p_key_id))
         + (SELECT count(*) FROM @extschema@.sessions s
             WHERE substr(s.header_enc, 2, 16) = uuid_send(p_key_id))
         + (SELECT count(*) FROM @extschema@.sessions s
             WHERE substr(s.source_enc, 2, 16) = uuid_send(p_key_id));
END;
