CREATE FUNCTION @extschema@.call_phased(p_column bytea, p_sample integer)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- Whether sample p_sample's GT is phased (bit 4 of its first byte in the
-- records row's gt column); NULL when it has no GT.
AS $$
SELECT CASE WHEN pg_catalog.get_byte(p_column, 0) = 1 THEN
                CASE WHEN pg_catalog.get_byte(p_column, p_sample) & 3 = 3 THEN NULL
                     ELSE pg_catalog.get_byte(p_column, p_sample) & 16 <> 0 END
            ELSE CASE WHEN pg_catalog.get_byte(p_column, 5 + @extschema@.call_fixed_at(p_column, 4, 1) * (p_sample - 1)) & 3 = 3
                      THEN NULL
                      ELSE pg_catalog.get_byte(p_column, 5 + @extschema@.call_fixed_at(p_column, 4, 1) * (p_sample - 1)) & 16 <> 0 END END
$$;
