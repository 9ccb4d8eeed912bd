CREATE FUNCTION @extschema@._is_int32(p_value text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- An integer that fits a 32-bit column (VCF Integer values are 32-bit).
AS $$
SELECT coalesce(CASE WHEN p_value ~ '^[-+]?[0-9]{1,10}$'
                     THEN p_value::bigint BETWEEN -2147483648 AND 2147483647 END, false)
$$;

