CREATE FUNCTION @extschema@._genotype_columns()
RETURNS TABLE (record_no bigint, alt_no smallint, gt bytea, gq bytea, dp bytea,
               ad bytea, pl bytea, fmt jsonb)
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_column
BEGIN
    -- The dense genotype columns of vcf.records (docs/architecture.md,
    -- "Genotype columns"), one row per (record, ALT), from the calls in
    -- pg_temp.vcf_ingest_calls (one row per record, ALT and sample index,
    -- decoded values): the PL/pgSQL engine's encoder, and the 0.3.0 -> 0.4.0
    -- upgrade's. The PL/Python engine writes the same bytes (its encode_row);
    -- tests/python/integration/test_engines_agree.py compares them. A
    -- column's width, ploidy and list length are the largest of its row.
    --
    -- Each sample's piece of a column has the same size within a row, so a
    -- column of the whole block is one ordered aggregate (one sort per
    -- block), and each row takes its slice at the sum of the sizes before
    -- it. Aggregating per row instead (an ordered aggregate under GROUP BY,
    -- or over a window partitioned by row) costs a sort or a tuplestore per
    -- row in PostgreSQL 15: 200-600 us each, ten times the rest of the
    -- ingest for a file of one sample. Only fmt, a JSON array, is aggregated
    -- per row, and only for the rows that have one.
    RETURN QUERY
    WITH r AS MATERIALIZED (
        SELECT c.record_no, c.alt_no, count(*) AS s,
               max(pg_catalog.cardinality(c.gt)) AS p,
               CASE WHEN max(c.gq) IS NOT NULL
                    THEN @extschema@._fixed_width(min(c.gq), max(c.gq)) END AS gq_w,
               CASE WHEN max(c.dp) IS NOT NULL
                    THEN @extschema@._fixed_width(min(c.dp), max(c.dp)) END AS dp_w,
               max(pg_catalog.cardinality(c.ad)) AS ad_n,
               @extschema@._fixed_width(coalesce(min(c.ad_lo), 0), coalesce(max(c.ad_hi), 0)) AS ad_w,
               CASE WHEN max(pg_catalog.cardinality(c.ad)) <= 254 THEN 1 ELSE 4 END AS ad_cw,
               max(pg_catalog.cardinality(c.pl)) AS pl_n,
               @extschema@._fixed_width(coalesce(min(c.pl_lo), 0), coalesce(max(c.pl_hi), 0)) AS pl_w,
               CASE WHEN max(pg_catalog.cardinality(c.pl)) <= 254 THEN 1 ELSE 4 END AS pl_cw,
               pg_catalog.bool_or(c.fmt IS NOT NULL) AS any_fmt
          FROM (SELECT y.record_no, y.alt_no, y.gt, y.gq, y.dp, y.ad, y.pl, y.fmt,
                       -- the lists' extremes, only for a list (a scalar
                       -- subquery in a CASE runs only when taken)
                       CASE WHEN y.ad IS NOT NULL THEN
                           (SELECT min(e.v) FROM pg_catalog.unnest(y.ad) AS e(v)) END AS ad_lo,
                       CASE WHEN y.ad IS NOT NULL THEN
                           (SELECT max(e.v) FROM pg_catalog.unnest(y.ad) AS e(v)) END AS ad_hi,
                       CASE WHEN y.pl IS NOT NULL THEN
                           (SELECT min(e.v) FROM pg_catalog.unnest(y.pl) AS e(v)) END AS pl_lo,
                       CASE WHEN y.pl IS NOT NULL THEN
                           (SELECT max(e.v) FROM pg_catalog.unnest(y.pl) AS e(v)) END AS pl_hi
                  FROM pg_temp.vcf_ingest_calls y) AS c
         GROUP BY c.record_no, c.alt_no),
    -- each row's bytes per column (0 where the column is NULL) and where its
    -- slice starts in the block's column
    sized AS (
        SELECT z.*,
               sum(z.gt_len) OVER o - z.gt_len AS gt_off, sum(z.gq_len) OVER o - z.gq_len AS gq_off,
               sum(z.dp_len) OVER o - z.dp_len AS dp_off, sum(z.ad_len) OVER o - z.ad_len AS ad_off,
               sum(z.pl_len) OVER o - z.pl_len AS pl_off
          FROM (SELECT r.*,
                       CASE WHEN r.p IS NULL THEN 0 WHEN r.p <= 2 THEN r.s ELSE r.s * r.p END AS gt_len,
                       coalesce(r.s * r.gq_w, 0) AS gq_len, coalesce(r.s * r.dp_w, 0) AS dp_len,
                       CASE WHEN r.ad_n IS NULL THEN 0 ELSE r.s * (r.ad_cw + r.ad_n * r.ad_w) END AS ad_len,
                       CASE WHEN r.pl_n IS NULL THEN 0 ELSE r.s * (r.pl_cw + r.pl_n * r.pl_w) END AS pl_len
                  FROM r) AS z
        WINDOW o AS (ORDER BY z.record_no, z.alt_no ROWS UNBOUNDED PRECEDING)),
    -- the block's columns: every sample's piece, in (record, ALT, sample)
    -- order; a NULL piece (a NULL column) adds nothing
    b AS (
        SELECT pg_catalog.string_agg(
                   CASE WHEN r.p <= 2 THEN pg_catalog.set_byte('\x00'::bytea, 0,
                                                                @extschema@._gt_byte(c.gt, c.phased))
                        WHEN r.p > 2 THEN @extschema@._gt_wide_bytes(c.gt, c.phased, r.p) END,
                   ''::bytea ORDER BY c.record_no, c.alt_no, c.sample_index) AS gt,
               pg_catalog.string_agg(
                   CASE WHEN r.gq_w IS NOT NULL THEN @extschema@._fixed_bytes(c.gq, r.gq_w) END,
                   ''::bytea ORDER BY c.record_no, c.alt_no, c.sample_index) AS gq,
               pg_catalog.string_agg(
                   CASE WHEN r.dp_w IS NOT NULL THEN @extschema@._fixed_bytes(c.dp, r.dp_w) END,
                   ''::bytea ORDER BY c.record_no, c.alt_no, c.sample_index) AS dp,
               pg_catalog.string_agg(
                   CASE WHEN r.ad_n IS NOT NULL
                        THEN @extschema@._list_bytes(c.ad, r.ad_w, r.ad_cw, r.ad_n) END,
                   ''::bytea ORDER BY c.record_no, c.alt_no, c.sample_index) AS ad,
               pg_catalog.string_agg(
                   CASE WHEN r.pl_n IS NOT NULL
                        THEN @extschema@._list_bytes(c.pl, r.pl_w, r.pl_cw, r.pl_n) END,
                   ''::bytea ORDER BY c.record_no, c.alt_no, c.sample_index) AS pl
          FROM pg_temp.vcf_ingest_calls c
          JOIN r ON r.record_no = c.record_no AND r.alt_no = c.alt_no),
    f AS (
        SELECT c.record_no, c.alt_no, pg_catalog.jsonb_agg(c.fmt ORDER BY c.sample_index) AS fmt
          FROM pg_temp.vcf_ingest_calls c
          JOIN r ON r.record_no = c.record_no AND r.alt_no = c.alt_no AND r.any_fmt
         GROUP BY c.record_no, c.alt_no)
    SELECT z.record_no, z.alt_no::smallint,
           CASE WHEN z.p IS NULL THEN NULL
                WHEN z.p <= 2 THEN '\x01'::bytea || pg_catalog.substr(b.gt, z.gt_off::integer + 1, z.gt_len::integer)
                ELSE '\x02'::bytea || pg_catalog.int4send(z.p)
                     || pg_catalog.substr(b.gt, z.gt_off::integer + 1, z.gt_len::integer) END,
           CASE WHEN z.gq_w IS NOT NULL THEN pg_catalog.set_byte('\x00'::bytea, 0, z.gq_w)
                || pg_catalog.substr(b.gq, z.gq_off::integer + 1, z.gq_len::integer) END,
           CASE WHEN z.dp_w IS NOT NULL THEN pg_catalog.set_byte('\x00'::bytea, 0, z.dp_w)
                || pg_catalog.substr(b.dp, z.dp_off::integer + 1, z.dp_len::integer) END,
           CASE WHEN z.ad_n IS NOT NULL THEN pg_catalog.set_byte('\x00'::bytea, 0, z.ad_w)
                || pg_catalog.set_byte('\x00'::bytea, 0, z.ad_cw) || pg_catalog.int4send(z.ad_n)
                || pg_catalog.substr(b.ad, z.ad_off::integer + 1, z.ad_len::integer) END,
           CASE WHEN z.pl_n IS NOT NULL THEN pg_catalog.set_byte('\x00'::bytea, 0, z.pl_w)
                || pg_catalog.set_byte('\x00'::bytea, 0, z.pl_cw) || pg_catalog.int4send(z.pl_n)
                || pg_catalog.substr(b.pl, z.pl_off::integer + 1, z.pl_len::integer) END,
           f.fmt
      FROM sized z
     CROSS JOIN b
      LEFT JOIN f ON f.record_no = z.record_no AND f.alt_no = z.alt_no;
END
$$;
