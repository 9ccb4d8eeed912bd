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
    RETURN QUERY
    SELECT w.record_no, w.alt_no::smallint,
           CASE WHEN w.p IS NULL THEN NULL
                WHEN w.p <= 2 THEN '\x01'::bytea
                    || pg_catalog.string_agg(pg_catalog.set_byte('\x00'::bytea, 0,
                                             @extschema@._gt_byte(w.gt, w.phased)),
                                             ''::bytea ORDER BY w.sample_index)
                ELSE '\x02'::bytea || pg_catalog.int4send(w.p)
                    || pg_catalog.string_agg(@extschema@._gt_wide_bytes(w.gt, w.phased, w.p),
                                             ''::bytea ORDER BY w.sample_index) END,
           CASE WHEN w.gq_w IS NOT NULL THEN pg_catalog.set_byte('\x00'::bytea, 0, w.gq_w)
                || pg_catalog.string_agg(@extschema@._fixed_bytes(w.gq, w.gq_w), ''::bytea
                                         ORDER BY w.sample_index) END,
           CASE WHEN w.dp_w IS NOT NULL THEN pg_catalog.set_byte('\x00'::bytea, 0, w.dp_w)
                || pg_catalog.string_agg(@extschema@._fixed_bytes(w.dp, w.dp_w), ''::bytea
                                         ORDER BY w.sample_index) END,
           CASE WHEN w.ad_n IS NOT NULL THEN pg_catalog.set_byte('\x00'::bytea, 0, w.ad_w)
                || pg_catalog.set_byte('\x00'::bytea, 0, w.ad_cw) || pg_catalog.int4send(w.ad_n)
                || pg_catalog.string_agg(@extschema@._list_bytes(w.ad, w.ad_w, w.ad_cw, w.ad_n),
                                         ''::bytea ORDER BY w.sample_index) END,
           CASE WHEN w.pl_n IS NOT NULL THEN pg_catalog.set_byte('\x00'::bytea, 0, w.pl_w)
                || pg_catalog.set_byte('\x00'::bytea, 0, w.pl_cw) || pg_catalog.int4send(w.pl_n)
                || pg_catalog.string_agg(@extschema@._list_bytes(w.pl, w.pl_w, w.pl_cw, w.pl_n),
                                         ''::bytea ORDER BY w.sample_index) END,
           CASE WHEN pg_catalog.bool_or(w.fmt IS NOT NULL)
                THEN pg_catalog.jsonb_agg(w.fmt ORDER BY w.sample_index) END
      FROM (SELECT c.record_no, c.alt_no, c.sample_index, c.gt, c.phased, c.gq, c.dp,
                   c.ad, c.pl, c.fmt,
                   max(pg_catalog.cardinality(c.gt)) OVER r AS p,
                   CASE WHEN max(c.gq) OVER r IS NOT NULL
                        THEN @extschema@._fixed_width(min(c.gq) OVER r, max(c.gq) OVER r) END AS gq_w,
                   CASE WHEN max(c.dp) OVER r IS NOT NULL
                        THEN @extschema@._fixed_width(min(c.dp) OVER r, max(c.dp) OVER r) END AS dp_w,
                   max(pg_catalog.cardinality(c.ad)) OVER r AS ad_n,
                   @extschema@._fixed_width(coalesce(min(a.lo) OVER r, 0),
                                            coalesce(max(a.hi) OVER r, 0)) AS ad_w,
                   CASE WHEN max(pg_catalog.cardinality(c.ad)) OVER r <= 254 THEN 1 ELSE 4 END AS ad_cw,
                   max(pg_catalog.cardinality(c.pl)) OVER r AS pl_n,
                   @extschema@._fixed_width(coalesce(min(b.lo) OVER r, 0),
                                            coalesce(max(b.hi) OVER r, 0)) AS pl_w,
                   CASE WHEN max(pg_catalog.cardinality(c.pl)) OVER r <= 254 THEN 1 ELSE 4 END AS pl_cw
              FROM pg_temp.vcf_ingest_calls c
              LEFT JOIN LATERAL (SELECT min(x.v) AS lo, max(x.v) AS hi
                                   FROM pg_catalog.unnest(c.ad) AS x(v)) AS a ON c.ad IS NOT NULL
              LEFT JOIN LATERAL (SELECT min(x.v) AS lo, max(x.v) AS hi
                                   FROM pg_catalog.unnest(c.pl) AS x(v)) AS b ON c.pl IS NOT NULL
            WINDOW r AS (PARTITION BY c.record_no, c.alt_no)) AS w
     GROUP BY w.record_no, w.alt_no, w.p, w.gq_w, w.dp_w, w.ad_n, w.ad_w, w.ad_cw,
              w.pl_n, w.pl_w, w.pl_cw;
END
$$;
