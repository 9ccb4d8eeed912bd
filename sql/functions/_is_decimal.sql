CREATE FUNCTION @extschema@._is_decimal(p_value text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- A decimal number as VCF writes Float values (exponent allowed) that numeric,
-- hence jsonb, can hold: at most 16383 digits after the point once the
-- exponent is applied (1e-20000 is not one).
AS $$
SELECT coalesce(length(p_value) <= 400
                AND p_value ~* '^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)(e[-+]?[0-9]{1,5})?$'
                AND length(coalesce(substring(p_value FROM '\.([0-9]*)'), ''))
                    - coalesce(substring(p_value FROM '[eE]([-+]?[0-9]+)$')::integer, 0) <= 16383,
                false)
$$;

