CREATE FUNCTION @extschema@.call_int(p_column bytea, p_sample integer)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- Sample p_sample's (session_samples.sample_index) GQ or DP from a records
-- row's gq or dp column: byte 0 the row's width, then one value per sample.
AS $$
SELECT @extschema@.call_fixed_at(p_column, pg_catalog.get_byte(p_column, 0),
                             1 + pg_catalog.get_byte(p_column, 0) * (p_sample - 1))
$$;
