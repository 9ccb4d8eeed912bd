-- One row per (record, ALT, sample), decoded from the dense genotype columns
-- of vcf.records: the shape vcf.calls had as a table up to 0.3.0, so that
-- queries keep working (docs/queries.md). gt is recoded to the row's ALT as
-- bcftools norm -m-any does; NULL gt means the sample has no GT. Each
-- column value is detoasted once per records row (the LATERAL ... OFFSET 0),
-- not once per sample. security_invoker: read with the reader's privileges
-- on vcf.records and vcf.session_samples, never the owner's.
CREATE VIEW @extschema@.calls WITH (security_invoker = true) AS
SELECT r.session_id, r.record_no, r.alt_no, ss.sample_id,
       @extschema@.call_gt(d.gt, ss.sample_index) AS gt,
       @extschema@.call_phased(d.gt, ss.sample_index) AS phased,
       @extschema@.call_int(d.gq, ss.sample_index) AS gq,
       @extschema@.call_int(d.dp, ss.sample_index) AS dp,
       @extschema@.call_ints(d.ad, ss.sample_index) AS ad,
       @extschema@.call_ints(d.pl, ss.sample_index) AS pl,
       @extschema@.call_fmt(d.fmt, ss.sample_index) AS fmt
  FROM @extschema@.records r
 CROSS JOIN LATERAL (SELECT pg_catalog.substr(r.gt, 1) AS gt, pg_catalog.substr(r.gq, 1) AS gq,
                            pg_catalog.substr(r.dp, 1) AS dp, pg_catalog.substr(r.ad, 1) AS ad,
                            pg_catalog.substr(r.pl, 1) AS pl, r.fmt OPERATOR(pg_catalog.||) '[]'::jsonb AS fmt
                     OFFSET 0) AS d
  JOIN @extschema@.session_samples ss ON ss.session_id = r.session_id;
