-- After grants.sql: the companion's functions get the same pinned settings
-- as the core extension's (vcf._pin_settings, from vcf_pg_loader).
SELECT @extschema@._pin_settings('vcf_pg_loader_plpython');
