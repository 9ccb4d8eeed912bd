-- Schema vcf is created by CREATE EXTENSION (schema = vcf in the control file).
-- Nobody but its owner may use it until grants.sql says otherwise.
REVOKE ALL ON SCHEMA @extschema@ FROM PUBLIC;
COMMENT ON SCHEMA @extschema@ IS 'vcf_pg_loader: encrypted VCF staging, variants, calls and audit trail';

