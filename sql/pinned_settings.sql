-- After grants.sql: pin the settings a caller could use to make the
-- extension print keys or PHI, or skip an audit row, on every function a
-- caller can reach (vcf._pin_settings; tests/python/integration/
-- test_debug_output.py checks every such function). Upgrade scripts end
-- with the same line.
SELECT @extschema@._pin_settings('vcf_pg_loader');
