CREATE FUNCTION @extschema@._ingest_concurrent()
RETURNS boolean
LANGUAGE sql STABLE
-- Whether the ingest running in this transaction commits the rows it shares
-- with other files (vcf.variants, vcf.samples) in transactions of their own
-- (vcf._share_variants, vcf._share_samples). vcf.vcf_ingest sets it for the
-- transaction from its caller's setting vcf_pg_loader.ingest_concurrent
-- (vcfctl load --jobs sets that); what a caller sets later in the same
-- transaction cannot reach a running ingest.
RETURN coalesce(current_setting('vcf_pg_loader.ingest_concurrent_now', true) = 'on', false);
