CREATE FUNCTION @extschema@._is_pos(p_pos text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- A VCF POS that fits the integer column: 0 to 2^31-1, digits only.
RETURN coalesce(CASE WHEN p_pos ~ '^[0-9]{1,10}$' THEN p_pos::bigint <= 2147483647 END, false);

