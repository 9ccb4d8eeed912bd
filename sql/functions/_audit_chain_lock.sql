CREATE FUNCTION @extschema@._audit_chain_lock()
RETURNS void
LANGUAGE sql VOLATILE
-- Serialises the writers of the hash chain: taken by vcf._audit_seal and
-- held until the sealing transaction ends. The two keys spell 'vcfp' 'audi'.
RETURN pg_catalog.pg_advisory_xact_lock(1986225776, 1635083369);
