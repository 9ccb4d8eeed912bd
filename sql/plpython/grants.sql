-- Privileges of the companion, in one place: nothing for PUBLIC (functions
-- are created EXECUTE-able by PUBLIC, so that is revoked from each of the
-- companion's functions), then what project roles may call, from the table
-- below: vcf.unlock(key_id), the in-server twin of vcf.unlock(key_id, key),
-- granted as that one is in sql/grants.sql, and the SQL key rotation to
-- vcf_key_admin. The internal functions (vcf._*)
-- are the owner's only.
DO $grants$
DECLARE
    v_fn    regprocedure;
    v_grant record;
BEGIN
    FOR v_fn IN
        SELECT d.objid::regprocedure
          FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
         WHERE d.classid = 'pg_catalog.pg_proc'::regclass
           AND d.refclassid = 'pg_catalog.pg_extension'::regclass
           AND d.deptype = 'e' AND e.extname = 'vcf_pg_loader_plpython'
    LOOP
        EXECUTE format('REVOKE ALL ON ROUTINE %s FROM PUBLIC', v_fn);
    END LOOP;
    FOR v_grant IN
        SELECT g.* FROM (VALUES
        -- role             function
        ('vcf_loader',     '@extschema@.unlock(uuid)'),
        ('vcf_phi_reader', '@extschema@.unlock(uuid)'),
        ('vcf_key_admin',  '@extschema@.unlock(uuid)'),
        ('vcf_loader',     '@extschema@.server_key_provider()'),
        ('vcf_phi_reader', '@extschema@.server_key_provider()'),
        ('vcf_key_admin',  '@extschema@.server_key_provider()'),
        ('vcf_key_admin',  '@extschema@.rotate_begin_in_server()'),
        ('vcf_key_admin',  '@extschema@.rotate_phi_key(integer)')
        ) AS g(role, fn)
    LOOP
        EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO %I', v_grant.fn::regprocedure, v_grant.role);
    END LOOP;
END
$grants$;
