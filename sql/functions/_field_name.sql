CREATE FUNCTION @extschema@._field_name(p_sample integer, p_key text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- 'INFO/KEY' for INFO items (sample 0), 'FORMAT/KEY' for a sample's items.
AS $$
SELECT CASE WHEN p_sample = 0 THEN 'INFO/' ELSE 'FORMAT/' END || p_key
$$;

