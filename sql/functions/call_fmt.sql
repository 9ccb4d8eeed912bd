CREATE FUNCTION @extschema@.call_fmt(p_column jsonb, p_sample integer)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- Sample p_sample's other FORMAT fields (an object) from a records row's fmt
-- column, a JSON array over the file's samples; NULL for JSON null.
AS $$
SELECT NULLIF(p_column -> (p_sample - 1), 'null'::jsonb)
$$;
