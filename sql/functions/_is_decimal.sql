CREATE FUNCTION @extschema@._is_decimal(p_value text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- A decimal number as VCF writes Float values (exponent allowed).
AS $$
SELECT coalesce(length(p_value) <= 400
                AND p_value ~* '^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)(e[-+]?[0-9]{1,5})?$', false)
$$;

