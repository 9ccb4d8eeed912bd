CREATE FUNCTION @extschema@._pin_settings(p_extension name)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_fn      regprocedure;
    v_setting record;
    v_count   integer := 0;
BEGIN
    -- Fixes the settings of vcf._pinned_settings() on every function of
    -- p_extension that runs as the extension owner (SECURITY DEFINER) or that
    -- a project role may execute: every way in for a caller. Inside them a
    -- caller's SET of those settings has no effect, and everything they call
    -- runs under the pinned values too. Procedures are left out: one with SET
    -- clauses cannot COMMIT (vcf.rotate_phi_key), and they reach keys only
    -- through pinned functions. Run at the end of each install and upgrade
    -- script, after its grants. Returns how many functions it pinned.
    -- A setting only superusers may set (plpgsql.variable_conflict) is
    -- skipped when the installing role may not set it (pg_tle on AWS RDS):
    -- no caller without that privilege can change it either.
    FOR v_fn IN
        SELECT p.oid::regprocedure
          FROM pg_catalog.pg_depend d
          JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
          JOIN pg_catalog.pg_proc p ON p.oid = d.objid
         WHERE d.classid = 'pg_catalog.pg_proc'::regclass
           AND d.refclassid = 'pg_catalog.pg_extension'::regclass
           AND d.deptype = 'e' AND e.extname = p_extension AND p.prokind = 'f'
           AND (p.prosecdef OR EXISTS (
                   SELECT 1 FROM pg_catalog.aclexplode(p.proacl) a
                     JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
                    WHERE a.privilege_type = 'EXECUTE'
                      AND r.rolname = ANY (@extschema@._project_roles())))
         ORDER BY p.oid
    LOOP
        FOR v_setting IN
            SELECT s.* FROM @extschema@._pinned_settings() s
             WHERE NOT EXISTS (
                     SELECT 1 FROM pg_catalog.pg_settings g
                      WHERE g.name = s.name AND g.context = 'superuser')
                OR pg_catalog.has_parameter_privilege(s.name, 'SET')
                OR (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)
        LOOP
            EXECUTE format('ALTER FUNCTION %s SET %s = %L', v_fn, v_setting.name, v_setting.value);
        END LOOP;
        v_count := v_count + 1;
    END LOOP;
    RETURN v_count;
END
$$;
