CREATE FUNCTION @extschema@._variant_ids(p_chrom text[], p_pos integer[], p_allele_key bytea[])
RETURNS bigint[]
LANGUAGE sql VOLATILE
-- One plan, whatever the statistics of vcf.variants say: for each allele a
-- probe of variants_site_alleles_unique with all three columns as its
-- condition. vcf.variants is shared by every file; when the planner believed
-- it empty (an ANALYZE, by autovacuum too, while a load is uncommitted counts
-- none of the load's rows) or big (earlier files), it hashed or scanned the
-- whole table once per block: a 6 s load took 218 s. In a join, a scan of
-- the whole index with the keys as a filter costs the same as a probe when
-- the table looks empty (the planner picked it: 190 s for 50,000 records);
-- inside the LATERAL subquery (LIMIT keeps it one) the keys are parameters
-- of a one-table query, where the index's only use is the probe, and the
-- SET clauses leave no scan but the index one and no join but the nested
-- loop. A SQL function's statement is planned again at each call, under them.
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET enable_memoize = off
SET enable_material = off
SET enable_indexscan = on
SET enable_nestloop = on
AS $$
    -- The variant_id of each (chrom, pos, allele key), in the order given
    -- (NULL where there is none); both ingest engines look up a block's
    -- alleles here after inserting the new ones.
    SELECT array_agg(x.variant_id ORDER BY u.n)
      FROM unnest(p_chrom, p_pos, p_allele_key) WITH ORDINALITY AS u(chrom, pos, allele_key, n)
      LEFT JOIN LATERAL (
            SELECT v.variant_id FROM @extschema@.variants v
             WHERE v.chrom = u.chrom AND v.pos = u.pos AND v.allele_key = u.allele_key
             LIMIT 1) AS x ON true
$$;
