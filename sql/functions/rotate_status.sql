CREATE FUNCTION @extschema@.rotate_status()
RETURNS TABLE (active_key uuid, retiring_key uuid, remaining bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- The PHI key rotation in progress, if any: the active key, the retiring key
-- (NULL when none) and how many stored values still use the retiring key.
BEGIN ATOMIC
    SELECT a.key_id, r.key_id, coalesce(@extschema@._phi_values_using(r.key_id), 0)
      FROM (SELECT 1) AS one
      LEFT JOIN @extschema@.data_keys a ON a.purpose = 'phi' AND a.state = 'active'
      LEFT JOIN @extschema@.data_keys r ON r.purpose = 'phi' AND r.state = 'retiring';
END;
