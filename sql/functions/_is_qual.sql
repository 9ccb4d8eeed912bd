CREATE FUNCTION @extschema@._is_qual(p_qual text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- A VCF QUAL that double precision accepts without overflow or underflow:
-- '.', a decimal number, NaN or Infinity.
AS $$
SELECT coalesce(
    p_qual = '.'
    OR p_qual ~* '^[-+]?(nan|inf|infinity)$'
    OR CASE WHEN @extschema@._is_decimal(p_qual)
            THEN abs(p_qual::numeric) = 0
                 OR abs(p_qual::numeric) BETWEEN 1e-307 AND 1e308 END,
    false)
$$;

