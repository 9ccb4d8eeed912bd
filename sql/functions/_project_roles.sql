CREATE FUNCTION @extschema@._project_roles()
RETURNS name[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- The project's roles (created by roles.sql, granted by grants.sql).
RETURN ARRAY['vcf_loader', 'vcf_analyst', 'vcf_phi_reader', 'vcf_key_admin', 'vcf_auditor']::name[];
