-- vcf_pg_loader 0.3.0 -> 0.4.0. Written by hand (extension/released/README.md
-- says how): ALTER EXTENSION vcf_pg_loader UPDATE TO '0.4.0' runs it in one
-- transaction, as the extension owner; tests/python/integration/
-- test_upgrade.py checks that it leaves the objects a fresh 0.4.0 install
-- has, test_dense_genotypes.py that the genotypes loaded before it read the
-- same after it.
\echo Use "ALTER EXTENSION vcf_pg_loader UPDATE TO '0.4.0'" to load this file. \quit

-- Issue 11, item 1: dense genotypes. The table vcf.calls (one row per ALT
-- and sample, 176 bytes per call) becomes six columns of vcf.records (about
-- 2-3 bytes per call, docs/architecture.md "Genotype columns") and a view of
-- the same name and shape that decodes them. Encoders and decoders first.

CREATE FUNCTION @extschema@.call_fixed_at(p_bytes bytea, p_width integer, p_offset integer)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- The value of p_width bytes (1, 2 or 4, big-endian) at byte p_offset, NULL
-- for the width's NULL marker: vcf._fixed_bytes read back. Not STRICT, so
-- that the planner inlines it into the queries of vcf.calls.
AS $$
SELECT CASE p_width
       WHEN 1 THEN NULLIF(pg_catalog.get_byte(p_bytes, p_offset), 255)
       WHEN 2 THEN NULLIF((((pg_catalog.get_byte(p_bytes, p_offset) << 8)
                            | pg_catalog.get_byte(p_bytes, p_offset + 1)) # 32768) - 32768, -32768)
       ELSE NULLIF(((((pg_catalog.get_byte(p_bytes, p_offset)::bigint << 24)
                      | (pg_catalog.get_byte(p_bytes, p_offset + 1) << 16)
                      | (pg_catalog.get_byte(p_bytes, p_offset + 2) << 8)
                      | pg_catalog.get_byte(p_bytes, p_offset + 3)) # 2147483648) - 2147483648),
                   -2147483648)::integer END
$$;
REVOKE ALL ON FUNCTION @extschema@.call_fixed_at(bytea, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.call_fixed_at(bytea, integer, integer) TO vcf_analyst;

CREATE FUNCTION @extschema@.call_gt_wide(p_column bytea, p_sample integer)
RETURNS smallint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- Sample p_sample's GT from a gt column of ploidy above 2: byte 0 is 2,
-- bytes 1-4 the ploidy P, then P bytes per sample (vcf._gt_wide_bytes).
AS $$
SELECT CASE WHEN p_column IS NULL OR pg_catalog.get_byte(p_column, x.o) & 3 = 3 THEN NULL
            ELSE ARRAY(SELECT NULLIF(pg_catalog.get_byte(p_column, x.o + k.k) & 3, 2)::smallint
                         FROM pg_catalog.generate_series(0, x.p - 1) AS k(k)
                        WHERE pg_catalog.get_byte(p_column, x.o + k.k) & 3 <> 3
                        ORDER BY k.k) END
  FROM (SELECT y.p, 5 + y.p * (p_sample - 1) AS o
          FROM (SELECT @extschema@.call_fixed_at(p_column, 4, 1) AS p) AS y) AS x
$$;
REVOKE ALL ON FUNCTION @extschema@.call_gt_wide(bytea, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.call_gt_wide(bytea, integer) TO vcf_analyst;

CREATE FUNCTION @extschema@._fixed_bytes(p_value integer, p_width integer)
RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- One value at a fixed width, big-endian; NULL is the width's marker: 255,
-- -32768 or -2147483648 (which VCF reserves for a missing value, so that a
-- file's -2147483648 reads back as missing).
AS $$
SELECT CASE p_width
       WHEN 1 THEN pg_catalog.set_byte('\x00'::bytea, 0, coalesce(p_value, 255))
       WHEN 2 THEN pg_catalog.substr(pg_catalog.int4send(coalesce(p_value, -32768)), 3, 2)
       ELSE pg_catalog.int4send(coalesce(p_value, -2147483648)) END
$$;
REVOKE ALL ON FUNCTION @extschema@._fixed_bytes(integer, integer) FROM PUBLIC;

CREATE FUNCTION @extschema@._fixed_width(p_lo integer, p_hi integer)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- The width in bytes (1, 2 or 4) of a row's gq, dp, ad or pl values, from
-- their smallest and largest: the narrowest that holds both and leaves the
-- width's NULL marker free (docs/architecture.md, "Genotype columns").
AS $$
SELECT CASE WHEN p_lo >= 0 AND p_hi <= 254 THEN 1
            WHEN p_lo >= -32767 AND p_hi <= 32767 THEN 2
            ELSE 4 END
$$;
REVOKE ALL ON FUNCTION @extschema@._fixed_width(integer, integer) FROM PUBLIC;

CREATE FUNCTION @extschema@._gt_byte(p_gt smallint[], p_phased boolean)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- One sample's GT of ploidy up to 2 as the byte of a compact gt column: bits
-- 0-1 the first allele, bits 2-3 the second, as codes 0 REF, 1 this ALT,
-- 2 missing, 3 none (a haploid call's second allele, or no GT at all);
-- bit 4 phased. vcf.call_gt and vcf.call_phased read it back.
AS $$
SELECT CASE WHEN p_gt IS NULL THEN 15
            ELSE coalesce(p_gt[1], 2)
                 | (CASE WHEN pg_catalog.cardinality(p_gt) < 2 THEN 3 ELSE coalesce(p_gt[2], 2) END << 2)
                 | (CASE WHEN p_phased THEN 16 ELSE 0 END) END
$$;
REVOKE ALL ON FUNCTION @extschema@._gt_byte(smallint[], boolean) FROM PUBLIC;

CREATE FUNCTION @extschema@._gt_wide_bytes(p_gt smallint[], p_phased boolean, p_ploidy integer)
RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- One sample's GT in a row whose largest ploidy p_ploidy is above 2: one
-- byte per allele, the codes of vcf._gt_byte (3 after the last allele), bit
-- 4 of the first byte phased.
AS $$
SELECT pg_catalog.string_agg(pg_catalog.set_byte('\x00'::bytea, 0,
           CASE WHEN p_gt IS NULL OR k.k > pg_catalog.cardinality(p_gt) THEN 3
                ELSE coalesce(p_gt[k.k], 2) END
           | CASE WHEN k.k = 1 AND p_gt IS NOT NULL AND p_phased THEN 16 ELSE 0 END),
           ''::bytea ORDER BY k.k)
  FROM pg_catalog.generate_series(1, p_ploidy) AS k(k)
$$;
REVOKE ALL ON FUNCTION @extschema@._gt_wide_bytes(smallint[], boolean, integer) FROM PUBLIC;

CREATE FUNCTION @extschema@._list_bytes(p_values integer[], p_width integer,
                                        p_count_width integer, p_slots integer)
RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- One sample's AD or PL in its row's ad/pl column: the element count
-- (p_count_width bytes: 1, with 255 for a NULL list, or 4, with -1), then
-- p_slots values of p_width bytes, the list's and NULL markers after it, so
-- that sample i is at a fixed offset (docs/architecture.md, "Genotype
-- columns").
AS $$
SELECT CASE WHEN p_count_width = 1
            THEN pg_catalog.set_byte('\x00'::bytea, 0, coalesce(pg_catalog.cardinality(p_values), 255))
            ELSE pg_catalog.int4send(coalesce(pg_catalog.cardinality(p_values), -1)) END
       || coalesce((SELECT pg_catalog.string_agg(@extschema@._fixed_bytes(e.v, p_width), ''::bytea ORDER BY e.o)
                      FROM pg_catalog.unnest(p_values) WITH ORDINALITY AS e(v, o)), ''::bytea)
       || pg_catalog.decode(pg_catalog.repeat(pg_catalog.encode(@extschema@._fixed_bytes(NULL, p_width), 'hex'),
                                              p_slots - coalesce(pg_catalog.cardinality(p_values), 0)), 'hex')
$$;
REVOKE ALL ON FUNCTION @extschema@._list_bytes(integer[], integer, integer, integer) FROM PUBLIC;

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
REVOKE ALL ON FUNCTION @extschema@._genotype_columns() FROM PUBLIC;

CREATE FUNCTION @extschema@.call_fmt(p_column jsonb, p_sample integer)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- Sample p_sample's other FORMAT fields (an object) from a records row's fmt
-- column, a JSON array over the file's samples; NULL for JSON null.
AS $$
SELECT NULLIF(p_column -> (p_sample - 1), 'null'::jsonb)
$$;
REVOKE ALL ON FUNCTION @extschema@.call_fmt(jsonb, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.call_fmt(jsonb, integer) TO vcf_analyst;

CREATE FUNCTION @extschema@.call_gt(p_column bytea, p_sample integer)
RETURNS smallint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- Sample p_sample's GT, recoded to the row's ALT (0 REF, 1 this ALT, 0
-- another ALT, NULL missing), from a records row's gt column; NULL when the
-- sample has no GT. Byte 0 is 1 for the compact form, one byte per sample
-- (vcf._gt_byte), 2 for the wide one (vcf.call_gt_wide). Not STRICT, so
-- that the planner inlines it.
AS $$
SELECT CASE WHEN p_column IS NULL THEN NULL
            WHEN pg_catalog.get_byte(p_column, 0) = 1 THEN
                CASE WHEN pg_catalog.get_byte(p_column, p_sample) & 3 = 3 THEN NULL
                     WHEN (pg_catalog.get_byte(p_column, p_sample) >> 2) & 3 = 3
                         THEN ARRAY[NULLIF(pg_catalog.get_byte(p_column, p_sample) & 3, 2)]::smallint[]
                     ELSE ARRAY[NULLIF(pg_catalog.get_byte(p_column, p_sample) & 3, 2),
                                NULLIF((pg_catalog.get_byte(p_column, p_sample) >> 2) & 3, 2)]::smallint[] END
            ELSE @extschema@.call_gt_wide(p_column, p_sample) END
$$;
REVOKE ALL ON FUNCTION @extschema@.call_gt(bytea, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.call_gt(bytea, integer) TO vcf_analyst;

CREATE FUNCTION @extschema@.call_int(p_column bytea, p_sample integer)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- Sample p_sample's (session_samples.sample_index) GQ or DP from a records
-- row's gq or dp column: byte 0 the row's width, then one value per sample.
AS $$
SELECT @extschema@.call_fixed_at(p_column, pg_catalog.get_byte(p_column, 0),
                             1 + pg_catalog.get_byte(p_column, 0) * (p_sample - 1))
$$;
REVOKE ALL ON FUNCTION @extschema@.call_int(bytea, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.call_int(bytea, integer) TO vcf_analyst;

CREATE FUNCTION @extschema@.call_ints(p_column bytea, p_sample integer)
RETURNS integer[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- Sample p_sample's AD or PL from a records row's ad or pl column: byte 0
-- the values' width, byte 1 the counts' width, bytes 2-5 the slots per
-- sample, then per sample its count and its slots (vcf._list_bytes).
AS $$
SELECT CASE WHEN h.c IS NULL THEN NULL
            ELSE ARRAY(SELECT @extschema@.call_fixed_at(p_column, h.w, h.o + h.cw + h.w * j.j)
                         FROM pg_catalog.generate_series(0, h.c - 1) AS j(j) ORDER BY j.j) END
  FROM (SELECT x.w, x.cw, x.o,
               CASE WHEN x.cw = 1 THEN NULLIF(pg_catalog.get_byte(p_column, x.o), 255)
                    ELSE NULLIF(@extschema@.call_fixed_at(p_column, 4, x.o), -1) END AS c
          FROM (SELECT y.w, y.cw, 6 + (p_sample - 1) * (y.cw + y.w * @extschema@.call_fixed_at(p_column, 4, 2)) AS o
                  FROM (SELECT pg_catalog.get_byte(p_column, 0) AS w,
                               pg_catalog.get_byte(p_column, 1) AS cw) AS y) AS x) AS h
$$;
REVOKE ALL ON FUNCTION @extschema@.call_ints(bytea, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.call_ints(bytea, integer) TO vcf_analyst;

CREATE FUNCTION @extschema@.call_phased(p_column bytea, p_sample integer)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- Whether sample p_sample's GT is phased (bit 4 of its first byte in the
-- records row's gt column); NULL when it has no GT.
AS $$
SELECT CASE WHEN pg_catalog.get_byte(p_column, 0) = 1 THEN
                CASE WHEN pg_catalog.get_byte(p_column, p_sample) & 3 = 3 THEN NULL
                     ELSE pg_catalog.get_byte(p_column, p_sample) & 16 <> 0 END
            ELSE CASE WHEN pg_catalog.get_byte(p_column, 5 + @extschema@.call_fixed_at(p_column, 4, 1) * (p_sample - 1)) & 3 = 3
                      THEN NULL
                      ELSE pg_catalog.get_byte(p_column, 5 + @extschema@.call_fixed_at(p_column, 4, 1) * (p_sample - 1)) & 16 <> 0 END END
$$;
REVOKE ALL ON FUNCTION @extschema@.call_phased(bytea, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.call_phased(bytea, integer) TO vcf_analyst;

-- The PL/pgSQL engine writes the columns (through pg_temp.vcf_ingest_calls
-- and vcf._genotype_columns); a reload no longer deletes from vcf.calls.

CREATE OR REPLACE FUNCTION @extschema@._ingest_scratch()
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    -- (Re)creates the transaction-local scratch tables the block parsers
    -- share: the block's lines, its INFO/FORMAT items, their typed values,
    -- its calls and their dense encoding (vcf._genotype_columns), and the
    -- warnings of the whole ingest. Dropped first so that a table a
    -- caller created under the same name is never used.
    DROP TABLE IF EXISTS pg_temp.vcf_ingest_lines, pg_temp.vcf_ingest_items,
                         pg_temp.vcf_ingest_values, pg_temp.vcf_ingest_calls,
                         pg_temp.vcf_ingest_genotypes, pg_temp.vcf_ingest_warnings;
    CREATE TEMPORARY TABLE vcf_ingest_lines (
        line_no bigint NOT NULL, record_no bigint NOT NULL, line text NOT NULL,
        f text[] NOT NULL, alts text[] NOT NULL) ON COMMIT DROP;
    CREATE TEMPORARY TABLE vcf_ingest_items (
        record_no bigint NOT NULL, line_no bigint NOT NULL, k integer NOT NULL,
        sample integer NOT NULL, ord bigint NOT NULL, key text NOT NULL, raw text,
        ploidy integer, undefined boolean NOT NULL, number text NOT NULL, type text NOT NULL,
        cnt integer NOT NULL, expected integer, sliced boolean NOT NULL, haploid boolean)
        ON COMMIT DROP;
    CREATE TEMPORARY TABLE vcf_ingest_values (
        record_no bigint NOT NULL, alt_no integer NOT NULL, sample integer NOT NULL,
        ord bigint NOT NULL, key text NOT NULL, value jsonb, ints integer[],
        all_int boolean) ON COMMIT DROP;
    CREATE TEMPORARY TABLE vcf_ingest_calls (
        record_no bigint NOT NULL, alt_no integer NOT NULL, sample_index integer NOT NULL,
        gt smallint[], phased boolean, gq integer, dp integer, ad integer[], pl integer[],
        fmt jsonb) ON COMMIT DROP;
    CREATE TEMPORARY TABLE vcf_ingest_genotypes (
        record_no bigint NOT NULL, alt_no smallint NOT NULL, gt bytea, gq bytea, dp bytea,
        ad bytea, pl bytea, fmt jsonb, PRIMARY KEY (record_no, alt_no)) ON COMMIT DROP;
    CREATE TEMPORARY TABLE vcf_ingest_warnings (
        code text NOT NULL, line_no bigint NOT NULL, field text, message text NOT NULL)
        ON COMMIT DROP;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@._ingest_block(
    p_session_id uuid, p_data text, p_lines_before bigint, p_records_before bigint,
    p_columns integer, p_sample_ids bigint[], p_fields jsonb,
    OUT o_records bigint, OUT o_variants bigint, OUT o_calls bigint)
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_column
DECLARE
    v_bad record;
    v_nsamples integer := cardinality(p_sample_ids);
    v_chrom    text[];
    v_pos      integer[];
    v_ref      text[];
    v_alt      text[];
    v_key      bytea[];
    v_ids      bigint[];
BEGIN
    -- The portable engine: parses the data lines of one decrypted block
    -- set-based (a few statements per block, not one call per line) and
    -- writes variants (shared, one per ALT allele), records (INFO typed and
    -- sliced per ALT, and the dense genotype columns: GT recoded, GQ/DP/AD/PL
    -- promoted, other FORMAT fields typed and sliced) and record_lines, exactly as
    -- docs/vcf-semantics.md says; record-level deviations go to
    -- pg_temp.vcf_ingest_warnings. Blank lines are skipped but counted, so
    -- line numbers are the file's. Raises VP040 naming the file line of the
    -- first malformed data line. vcf._ingest_block_py is its PL/Python twin.
    TRUNCATE pg_temp.vcf_ingest_lines, pg_temp.vcf_ingest_items;
    INSERT INTO pg_temp.vcf_ingest_lines (line_no, record_no, line, f, alts)
    SELECT p_lines_before + t.n,
           p_records_before + row_number() OVER (ORDER BY t.n),
           t.line, t.f, coalesce(string_to_array(t.f[5], ','), '{}')
      FROM (SELECT x.line, x.n, string_to_array(x.line, E'\t') AS f
              FROM string_to_table(rtrim(p_data, E'\n'), E'\n') WITH ORDINALITY AS x(line, n)
             WHERE x.line <> '') AS t;
    GET DIAGNOSTICS o_records = ROW_COUNT;
    ANALYZE pg_temp.vcf_ingest_lines;  -- so variants are looked up by index, not hashed whole

    SELECT l.line_no, cardinality(l.f) AS ncols,
           CASE WHEN cardinality(l.f) <> p_columns THEN 'wrong number of columns'
                WHEN l.f[1] = '' THEN 'empty CHROM'
                WHEN octet_length(l.f[1]) > 1000 THEN 'CHROM is longer than 1000 bytes'
                WHEN octet_length(l.f[2]) > 10 OR NOT @extschema@._is_pos(l.f[2])
                    THEN 'POS is not a number between 0 and 2147483647'
                WHEN l.f[4] = '' OR l.f[5] = '' THEN 'empty REF or ALT'
                WHEN cardinality(l.alts) > 32767 THEN 'more than 32767 ALT alleles'
                ELSE 'QUAL is not a number in the range of double precision' END AS reason
      INTO v_bad
      FROM pg_temp.vcf_ingest_lines l
     WHERE cardinality(l.f) <> p_columns
        OR l.f[1] = ''
        -- CHROM is in the btree of vcf.variants, alt_no is a smallint: the
        -- limits of docs/architecture.md, not a raw server error later
        OR octet_length(l.f[1]) > 1000
        -- the length guards first: a regex reads its subject as 4-byte
        -- characters, so a long field would cost four times its size
        OR octet_length(l.f[2]) > 10 OR NOT @extschema@._is_pos(l.f[2])
        OR l.f[4] = '' OR l.f[5] = ''
        OR cardinality(l.alts) > 32767
        OR octet_length(l.f[6]) > 400 OR NOT @extschema@._is_qual(l.f[6])
     ORDER BY l.line_no
     LIMIT 1;
    IF FOUND AND v_bad.ncols <> p_columns THEN
        RAISE EXCEPTION 'session %: line %: %', p_session_id, v_bad.line_no, v_bad.reason
            USING ERRCODE = 'VP040',
                  DETAIL = format('The line has %s columns; the #CHROM line has %s.',
                                  v_bad.ncols, p_columns),
                  HINT = 'Fix the file and load it again; nothing of it was written.';
    ELSIF FOUND THEN
        RAISE EXCEPTION 'session %: line %: %', p_session_id, v_bad.line_no, v_bad.reason
            USING ERRCODE = 'VP040',
                  HINT = 'Fix the file and load it again; nothing of it was written.';
    END IF;

    -- INFO items (sample 0) and FORMAT items (sample 1..n), with their
    -- definitions, element counts and the count slicing expects.
    INSERT INTO pg_temp.vcf_ingest_items
           (record_no, line_no, k, sample, ord, key, raw, ploidy, undefined, number, type,
            cnt, expected, sliced, haploid)
    SELECT b.record_no, b.line_no, b.k, b.sample, b.ord, b.key, b.raw, b.ploidy,
           b.undefined, b.number, b.type, c.cnt, c.expected,
           c.expected IS NOT NULL AND c.cnt = c.expected,
           b.number = 'G' AND c.expected = b.k + 1
      FROM (SELECT r.*, d.def IS NULL AS undefined,
                   CASE WHEN r.sample = 0 AND r.raw IS NULL THEN '0'
                        ELSE coalesce(d.def->>'number', '1') END AS number,
                   CASE WHEN r.sample = 0 AND r.raw IS NULL THEN 'Flag'
                        ELSE coalesce(d.def->>'type', 'String') END AS type
              FROM (SELECT l.record_no, l.line_no, cardinality(l.alts) AS k, 0 AS sample, i.ord,
                           CASE WHEN e.p > 0 THEN left(i.item, e.p - 1) ELSE i.item END AS key,
                           CASE WHEN e.p > 0 THEN substr(i.item, e.p + 1) END AS raw,
                           NULL::integer AS ploidy
                      FROM pg_temp.vcf_ingest_lines l
                     CROSS JOIN LATERAL unnest(string_to_array(l.f[8], ';'))
                                WITH ORDINALITY AS i(item, ord)
                     CROSS JOIN LATERAL (SELECT strpos(i.item, '=') AS p) AS e
                     WHERE l.f[8] <> '.' AND i.item <> ''
                    UNION ALL
                    SELECT l.record_no, l.line_no, cardinality(l.alts), s.i::integer, j.ord, j.key,
                           v.parts[j.ord],
                           CASE WHEN v.gt <> '' THEN cardinality(regexp_split_to_array(v.gt, '[/|]')) END
                      FROM pg_temp.vcf_ingest_lines l
                     -- OFFSET 0 and one unnest: l.f read once per line, not once per
                     -- sample (each read detoasts the whole line: quadratic in samples)
                     CROSS JOIN LATERAL (SELECT string_to_array(l.f[9], ':') AS keys OFFSET 0) AS fk
                     CROSS JOIN LATERAL unnest(l.f[10:]) WITH ORDINALITY AS s(col, i)
                     CROSS JOIN LATERAL (SELECT p.parts, p.parts[array_position(fk.keys, 'GT')] AS gt
                                           FROM (SELECT string_to_array(s.col, ':') AS parts) AS p) AS v
                     CROSS JOIN LATERAL unnest(fk.keys) WITH ORDINALITY AS j(key, ord)
                     WHERE v_nsamples > 0 AND j.ord <= cardinality(v.parts)) AS r
             CROSS JOIN LATERAL (SELECT p_fields -> (CASE WHEN r.sample = 0 THEN 'INFO' ELSE 'FORMAT' END)
                                                 -> r.key AS def) AS d) AS b
     CROSS JOIN LATERAL (
            SELECT CASE WHEN b.raw IS NULL THEN 0
                        WHEN b.number IN ('0', '1') THEN 1
                        ELSE cardinality(string_to_array(b.raw, ',')) END AS cnt,
                   CASE WHEN b.k < 2 OR b.number NOT IN ('A', 'R', 'G') OR b.raw IS NULL OR b.raw = '.'
                        THEN NULL
                        WHEN b.number = 'A' THEN b.k
                        WHEN b.number = 'R' THEN b.k + 1
                        WHEN b.sample = 0 OR b.ploidy = 2 THEN (b.k + 1) * (b.k + 2) / 2
                        WHEN b.ploidy = 1 THEN b.k + 1
                        WHEN b.ploidy > 2 THEN NULL
                        WHEN cardinality(string_to_array(b.raw, ',')) = b.k + 1 THEN b.k + 1
                        ELSE (b.k + 1) * (b.k + 2) / 2 END AS expected) AS c;

    ANALYZE pg_temp.vcf_ingest_items;
    INSERT INTO pg_temp.vcf_ingest_warnings (code, line_no, field, message)
    SELECT w.code, w.line_no, w.field, w.message
      FROM (SELECT 'count_mismatch' AS code, it.line_no, it.sample, it.ord, @extschema@._field_name(it.sample, it.key) AS field,
                   format('line %s: %s%s has %s values, Number=%s expects %s', it.line_no,
                          CASE WHEN it.sample > 0 THEN format('sample %s: ', it.sample) ELSE '' END,
                          @extschema@._field_name(it.sample, it.key), it.cnt, it.number, it.expected) AS message
              FROM pg_temp.vcf_ingest_items it
             WHERE it.expected IS NOT NULL AND it.cnt <> it.expected
            UNION ALL
            SELECT 'ploidy', it.line_no, it.sample, it.ord, @extschema@._field_name(it.sample, it.key),
                   format('line %s: sample %s: %s with ploidy %s kept unsliced', it.line_no,
                          it.sample, @extschema@._field_name(it.sample, it.key), it.ploidy)
              FROM pg_temp.vcf_ingest_items it
             WHERE it.sample > 0 AND it.k > 1 AND it.number = 'G' AND it.ploidy > 2
               AND it.raw IS NOT NULL AND it.raw <> '.'
            UNION ALL
            SELECT 'undefined_key', it.line_no, it.sample, it.ord, @extschema@._field_name(it.sample, it.key),
                   format('line %s: %s is not defined in the header; loaded as %s', it.line_no,
                          @extschema@._field_name(it.sample, it.key), it.type)
              FROM pg_temp.vcf_ingest_items it
             WHERE it.undefined AND NOT (it.sample > 0 AND it.key = 'GT')
            UNION ALL
            SELECT 'bad_value', it.line_no, it.sample, it.ord, @extschema@._field_name(it.sample, it.key),
                   format('line %s: %s%s has a value that is not a valid %s', it.line_no,
                          CASE WHEN it.sample > 0 THEN format('sample %s: ', it.sample) ELSE '' END,
                          @extschema@._field_name(it.sample, it.key), it.type)
              FROM pg_temp.vcf_ingest_items it
             WHERE NOT (it.sample > 0 AND it.key = 'GT')
               AND ((it.type = 'Flag' AND it.raw IS NOT NULL)
                    OR (it.type IN ('Integer', 'Float') AND it.raw IS NOT NULL
                        AND EXISTS (SELECT 1 FROM unnest(CASE WHEN it.number IN ('0', '1') THEN ARRAY[it.raw]
                                                             ELSE string_to_array(it.raw, ',') END) AS e(x)
                                     WHERE NOT @extschema@._element_ok(e.x, it.type))))
            UNION ALL
            SELECT 'bad_gt', it.line_no, it.sample, it.ord, 'FORMAT/GT',
                   format('line %s: sample %s: GT allele is not a number or names no allele of the record',
                          it.line_no, it.sample)
              FROM pg_temp.vcf_ingest_items it
             WHERE it.sample > 0 AND it.key = 'GT' AND it.raw <> ''
               AND EXISTS (SELECT 1 FROM regexp_split_to_table(it.raw, '[/|]') AS a(x)
                            WHERE a.x <> '.' AND NOT (a.x ~ '^[0-9]{1,9}$' AND a.x::integer <= it.k))) AS w
     ORDER BY w.line_no, w.sample, w.ord, w.code;

    -- the block's alleles in (record, ALT) order, then the new ones into the
    -- shared table (vcf._share_variants) and the ids of all from
    -- vcf._variant_ids: index probes
    -- whatever the statistics of vcf.variants say (no join here could
    -- become a hash of the whole table)
    SELECT array_agg(l.f[1] ORDER BY l.record_no, a.n),
           array_agg(l.f[2]::integer ORDER BY l.record_no, a.n),
           array_agg(l.f[4] ORDER BY l.record_no, a.n),
           array_agg(a.alt ORDER BY l.record_no, a.n),
           array_agg(@extschema@._allele_key(l.f[4], a.alt) ORDER BY l.record_no, a.n)
      INTO v_chrom, v_pos, v_ref, v_alt, v_key
      FROM pg_temp.vcf_ingest_lines l
     CROSS JOIN LATERAL unnest(l.alts) WITH ORDINALITY AS a(alt, n);
    PERFORM @extschema@._share_variants(v_chrom, v_pos, v_ref, v_alt, v_key);
    v_ids := @extschema@._variant_ids(v_chrom, v_pos, v_key);
    v_ref := NULL;
    v_alt := NULL;

    INSERT INTO @extschema@.record_lines (session_id, record_no, line_no, line)
    SELECT p_session_id, l.record_no, l.line_no, l.line FROM pg_temp.vcf_ingest_lines l;

    -- typed, sliced values per (record, ALT, sample, key)
    TRUNCATE pg_temp.vcf_ingest_values;
    INSERT INTO pg_temp.vcf_ingest_values (record_no, alt_no, sample, ord, key, value, ints, all_int)
    SELECT e.record_no, a.n, e.sample, e.ord, e.key,
           CASE WHEN e.type = 'Flag' THEN 'true'::jsonb
                WHEN e.number IN ('0', '1') THEN @extschema@._json_element(min(e.elem), e.type)
                WHEN e.dot THEN 'null'::jsonb
                ELSE jsonb_agg(@extschema@._json_element(e.elem, e.type) ORDER BY e.eo) END,
           CASE WHEN e.all_int AND NOT e.dot
                THEN array_agg(CASE WHEN e.all_int AND e.elem <> '.' THEN e.elem::integer END
                               ORDER BY e.eo) END,
           e.all_int
      -- raw only as "is it '.'": a long value is not carried (and grouped) twice
      FROM (SELECT it.record_no, it.k, it.sample, it.ord, it.key, it.raw = '.' AS dot,
                   it.number, it.type,
                   it.sliced, it.haploid, x.elem, x.eo,
                   bool_and(x.elem = '.' OR (octet_length(x.elem) <= 11
                                             AND @extschema@._is_int32(x.elem)))
                       OVER (PARTITION BY it.record_no, it.sample, it.ord) AS all_int
              FROM pg_temp.vcf_ingest_items it
             CROSS JOIN LATERAL unnest(CASE WHEN it.raw IS NULL THEN ARRAY[NULL::text]
                                            WHEN it.number IN ('0', '1') THEN ARRAY[it.raw]
                                            ELSE string_to_array(it.raw, ',') END)
                        WITH ORDINALITY AS x(elem, eo)
             WHERE it.key <> 'GT' OR it.sample = 0) AS e
     CROSS JOIN LATERAL generate_series(1, e.k) AS a(n)
     WHERE NOT e.sliced
        OR (e.number = 'A' AND e.eo = a.n)
        OR (e.number = 'R' AND e.eo IN (1, a.n + 1))
        OR (e.number = 'G' AND e.haploid AND e.eo IN (1, a.n + 1))
        OR (e.number = 'G' AND NOT e.haploid
            AND e.eo IN (1, a.n * (a.n + 1) / 2 + 1, a.n * (a.n + 1) / 2 + a.n + 1))
     GROUP BY e.record_no, a.n, e.sample, e.ord, e.key, e.type, e.number, e.dot, e.all_int;

    ANALYZE pg_temp.vcf_ingest_values;
    -- per (record, ALT, sample): decoded here, encoded by vcf._genotype_columns
    TRUNCATE pg_temp.vcf_ingest_calls;
    o_calls := 0;
    IF v_nsamples > 0 THEN
        INSERT INTO pg_temp.vcf_ingest_calls
               (record_no, alt_no, sample_index, gt, phased, gq, dp, ad, pl, fmt)
        SELECT l.record_no, a.n, s.i,
               CASE WHEN g.raw <> '' THEN
                   ARRAY(SELECT CASE WHEN x.allele !~ '^[0-9]{1,9}$' THEN NULL
                                     WHEN x.allele::integer = 0 THEN 0
                                     WHEN x.allele::integer > cardinality(l.alts) THEN NULL
                                     WHEN x.allele::integer = a.n THEN 1
                                     ELSE 0 END
                           FROM regexp_split_to_table(g.raw, '[/|]') WITH ORDINALITY AS x(allele, k)
                          ORDER BY x.k)::smallint[] END,
               CASE WHEN g.raw <> '' THEN strpos(g.raw, '|') > 0 END,
               f.gq, f.dp, f.ad, f.pl, f.fmt
          FROM pg_temp.vcf_ingest_lines l
         CROSS JOIN LATERAL unnest(l.alts) WITH ORDINALITY AS a(alt, n)
         CROSS JOIN generate_series(1, v_nsamples) AS s(i)
          LEFT JOIN (SELECT DISTINCT ON (x.record_no, x.sample) x.record_no, x.sample, x.raw
                       FROM pg_temp.vcf_ingest_items x
                      WHERE x.sample > 0 AND x.key = 'GT'
                      ORDER BY x.record_no, x.sample, x.ord) AS g  -- the first GT, if named twice
            ON g.record_no = l.record_no AND g.sample = s.i
          LEFT JOIN (SELECT fv.record_no, fv.alt_no, fv.sample,
                            max(fv.ints[1]) FILTER (WHERE fv.promoted = 'gq') AS gq,
                            max(fv.ints[1]) FILTER (WHERE fv.promoted = 'dp') AS dp,
                            max(fv.ints) FILTER (WHERE fv.promoted = 'ad') AS ad,
                            max(fv.ints) FILTER (WHERE fv.promoted = 'pl') AS pl,
                            jsonb_object_agg(fv.key, fv.value ORDER BY fv.ord)
                                FILTER (WHERE fv.promoted IS NULL) AS fmt
                       FROM (SELECT x.*, CASE WHEN x.all_int THEN @extschema@._promoted(
                                                  x.key, p_fields->'FORMAT'->x.key) END AS promoted
                               FROM pg_temp.vcf_ingest_values x WHERE x.sample > 0) AS fv
                      GROUP BY fv.record_no, fv.alt_no, fv.sample) AS f
            ON f.record_no = l.record_no AND f.alt_no = a.n AND f.sample = s.i;
        GET DIAGNOSTICS o_calls = ROW_COUNT;
    END IF;
    -- into a table with a key, not joined as a function: the join would
    -- rescan the function's result once per records row
    TRUNCATE pg_temp.vcf_ingest_genotypes;
    INSERT INTO pg_temp.vcf_ingest_genotypes SELECT * FROM @extschema@._genotype_columns();
    ANALYZE pg_temp.vcf_ingest_genotypes;

    INSERT INTO @extschema@.records
           (session_id, record_no, alt_no, variant_id, id, qual, filter, info, alts,
            gt, gq, dp, ad, pl, fmt)
    SELECT p_session_id, l.record_no, a.n, v_ids[(l.alleles_before + a.n)::integer],
           NULLIF(l.f[3], '.'),
           CASE WHEN l.f[6] <> '.' THEN l.f[6]::double precision END,
           CASE WHEN l.f[7] <> '.' THEN string_to_array(l.f[7], ';') END,
           iv.info,
           l.alts,
           g.gt, g.gq, g.dp, g.ad, g.pl, g.fmt
      FROM (SELECT x.*, sum(cardinality(x.alts)) OVER (ORDER BY x.record_no)
                        - cardinality(x.alts) AS alleles_before
              FROM pg_temp.vcf_ingest_lines x) AS l
     CROSS JOIN LATERAL unnest(l.alts) WITH ORDINALITY AS a(alt, n)
      LEFT JOIN (SELECT x.record_no, x.alt_no, jsonb_object_agg(x.key, x.value ORDER BY x.ord) AS info
                   FROM pg_temp.vcf_ingest_values x WHERE x.sample = 0
                  GROUP BY x.record_no, x.alt_no) AS iv
        ON iv.record_no = l.record_no AND iv.alt_no = a.n
      -- the block's calls, encoded dense per (record, ALT)
      LEFT JOIN pg_temp.vcf_ingest_genotypes g
        ON g.record_no = l.record_no AND g.alt_no = a.n;
    GET DIAGNOSTICS o_variants = ROW_COUNT;

END
$$;

CREATE OR REPLACE FUNCTION @extschema@._replace_session(p_old uuid, p_new uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_winner uuid;
BEGIN
    -- A reload: removes the records, calls, lines and sample columns of an
    -- ingested session, in the transaction that ingests its replacement,
    -- and marks it 'replaced' (before the replacement becomes 'ingested',
    -- so the unique index sessions_one_ingested_per_content is satisfied).
    -- Shared variants and samples stay. Of two reloads of the same session
    -- that overlap, the second waits here for the first to commit; it then
    -- gets VP050 naming the session that now holds the content. Raises VP051
    -- when the old session is no longer ingested and no other session holds
    -- its content.
    UPDATE @extschema@.sessions SET state = 'replaced'
     WHERE session_id = p_old AND state = 'ingested';
    IF NOT FOUND THEN
        SELECT w.session_id INTO v_winner
          FROM @extschema@.sessions n
          JOIN @extschema@.sessions w ON w.content_sha256 = n.content_sha256
         WHERE n.session_id = p_new AND w.state = 'ingested' AND w.session_id <> p_new;
        IF FOUND THEN
            RAISE EXCEPTION 'this content is already loaded as session %', v_winner
                USING ERRCODE = 'VP050', DETAIL = v_winner::text,
                      HINT = 'Another reload replaced session ' || p_old || ' first; nothing was written.';
        END IF;
        RAISE EXCEPTION 'session % is no longer ingested; nothing to replace', p_old
            USING ERRCODE = 'VP051', HINT = 'Stage the file again with --reload.';
    END IF;
    DELETE FROM @extschema@.records WHERE session_id = p_old;
    DELETE FROM @extschema@.record_lines WHERE session_id = p_old;
    DELETE FROM @extschema@.session_samples WHERE session_id = p_old;
    PERFORM @extschema@._audit('reload', p_old::text, true,
                               jsonb_build_object('replaced_by', p_new));
END
$$;

CREATE OR REPLACE FUNCTION @extschema@._ingest(
    p_session_id uuid, p_engine text DEFAULT NULL, p_strict boolean DEFAULT false)
RETURNS TABLE (session_id uuid, records bigint, variants bigint, calls bigint,
               samples integer, state text)
LANGUAGE plpgsql VOLATILE
-- The block statements are planned on small unanalysed temp tables, whose
-- row estimates make JIT compile every block for nothing.
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    v_session      @extschema@.sessions%ROWTYPE;
    v_staging_key  bytea;
    v_phi_key_id   uuid;
    v_phi_key      bytea;
    v_block        record;
    v_missing      integer;
    v_plain        bytea;
    v_text         text;
    v_cut          integer;
    v_header       text := '';
    v_header_done  boolean := false;
    v_hdr          record;
    v_part         record;
    v_records      bigint := 0;
    v_lines_done   bigint := 0;
    v_variants     bigint := 0;
    v_calls        bigint := 0;
    v_engine       regproc;
    v_warning      text;
    v_warnings     jsonb;
    v_winner       uuid;
    v_progress     boolean := lower(coalesce(current_setting('vcf_pg_loader.ingest_progress', true), ''))
                              IN ('on', 'true', 'yes', '1');
BEGIN
    -- Ingests one staged session in the caller's transaction: verifies the
    -- manifest and every block's tag before using it, decrypts and parses
    -- block by block, encrypts PHI under the PHI key, then deletes the
    -- staged blocks and destroys the staging key. Both keys must have been
    -- unlocked in this transaction (vcf.unlock). Called by vcf.vcf_ingest,
    -- which runs it as the extension owner. Any error aborts the whole
    -- ingest; nothing of the session is written. p_engine picks the block
    -- parser: 'plpython' (vcf._ingest_block_py, from the companion
    -- extension), 'plpgsql' (vcf._ingest_block), or NULL for the first when
    -- it is installed. p_strict turns every warning into a reject (VP041).
    -- Only the login that staged the session (sessions.created_by) may
    -- ingest it (42501). Content that another session already holds as
    -- 'ingested' is refused (VP050, DETAIL: that session), early when it is
    -- visible at the start, and otherwise by the unique index
    -- sessions_one_ingested_per_content when two ingests of the same content
    -- overlap: the second waits for the first to commit, then gets VP050.
    -- With the setting vcf_pg_loader.ingest_progress on, each block parsed
    -- raises a NOTICE with SQLSTATE VP090 and, as DETAIL, the JSON object
    -- {"blocks_done", "blocks", "records"}: counts only, never file content.
    -- With vcf._ingest_concurrent, variants and samples are committed apart
    -- (vcf._share_variants, vcf._share_samples). Raises VP001-VP053, 42501.
    v_engine := @extschema@._ingest_engine(p_engine);
    IF @extschema@._ingest_concurrent() AND current_setting('transaction_isolation') <> 'read committed' THEN
        -- rows committed apart are invisible to a transaction snapshot
        RAISE EXCEPTION 'a concurrent ingest needs isolation level READ COMMITTED, not %',
            upper(current_setting('transaction_isolation'))
            USING ERRCODE = 'VP052',
                  HINT = 'Ingest in a READ COMMITTED transaction, or without vcf_pg_loader.ingest_concurrent.';
    END IF;
    SELECT * INTO v_session FROM @extschema@.sessions s
     WHERE s.session_id = p_session_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'session % does not exist', p_session_id
            USING ERRCODE = 'VP001', HINT = 'List sessions with "vcfctl sessions list".';
    END IF;
    IF v_session.created_by IS DISTINCT FROM session_user THEN
        RAISE EXCEPTION 'permission denied to ingest session %: it was staged by another login', p_session_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only the login that staged a session may ingest it; stage the file again as yourself.';
    END IF;
    IF v_session.state <> 'staged' THEN
        RAISE EXCEPTION 'session % is %, not staged', p_session_id, v_session.state
            USING ERRCODE = 'VP010',
                  HINT = CASE v_session.state
                      WHEN 'ingested' THEN 'It has been loaded already.'
                      WHEN 'staging' THEN 'Its staging did not finish: purge it and stage the file again.'
                      ELSE 'Stage the file again.' END;
    END IF;
    -- Cheap early refusal when another session already holds this content;
    -- the unique index sessions_one_ingested_per_content decides the race.
    SELECT s.session_id INTO v_winner FROM @extschema@.sessions s
     WHERE s.content_sha256 = v_session.content_sha256 AND s.state = 'ingested'
       AND s.session_id IS DISTINCT FROM v_session.replaces;
    IF FOUND THEN
        RAISE EXCEPTION 'this content is already loaded as session %', v_winner
            USING ERRCODE = 'VP050', DETAIL = v_winner::text,
                  HINT = 'Nothing was written; load it with --reload to replace that session''s records and calls.';
    END IF;

    v_staging_key := @extschema@._unlocked_key(v_session.staging_key_id);
    -- FOR SHARE until commit: a rotation cannot begin (retire this key)
    -- while this ingest writes values under it.
    SELECT k.key_id INTO v_phi_key_id FROM @extschema@.data_keys k
     WHERE k.purpose = 'phi' AND k.state = 'active' FOR SHARE;
    IF v_phi_key_id IS NULL THEN
        RAISE EXCEPTION 'there is no active PHI key'
            USING ERRCODE = 'VP006', HINT = 'Create one with "vcfctl keys init".';
    END IF;
    v_phi_key := @extschema@._unlocked_key(v_phi_key_id);

    IF @extschema@._open(v_staging_key, v_session.manifest,
            format('vcf.sessions.manifest:%s:%s:%s:%s', p_session_id, v_session.block_count,
                   v_session.line_count, encode(v_session.content_sha256, 'hex'))) IS NULL THEN
        RAISE EXCEPTION 'session %: the manifest does not verify', p_session_id
            USING ERRCODE = 'VP020', HINT = 'The session row was modified; purge it and stage the file again.';
    END IF;
    SELECT g INTO v_missing
      FROM generate_series(0, v_session.block_count - 1) AS g
     WHERE NOT EXISTS (SELECT 1 FROM @extschema@.staged_blocks b
                        WHERE b.session_id = p_session_id AND b.block_no = g)
     ORDER BY g LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'session %: block % is missing', p_session_id, v_missing
            USING ERRCODE = 'VP021', HINT = 'Staged data was removed; purge the session and stage the file again.';
    END IF;
    SELECT b.block_no INTO v_missing FROM @extschema@.staged_blocks b
     WHERE b.session_id = p_session_id AND b.block_no >= v_session.block_count
     ORDER BY b.block_no LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'session %: block % was not part of the staged file', p_session_id, v_missing
            USING ERRCODE = 'VP022', HINT = 'Staged data was tampered with; purge the session and stage the file again.';
    END IF;

    IF p_strict AND jsonb_array_length(v_session.warnings) > 0 THEN
        RAISE EXCEPTION 'session %: %', p_session_id,
            v_session.warnings->0->'examples'->>0
            USING ERRCODE = 'VP041', HINT = 'Loaded without strict, this would be a warning.';
    END IF;
    PERFORM @extschema@._ingest_scratch();

    FOR v_block IN
        SELECT b.block_no, b.line_count, b.ciphertext FROM @extschema@.staged_blocks b
         WHERE b.session_id = p_session_id ORDER BY b.block_no
    LOOP
        v_plain := @extschema@._open(v_staging_key, v_block.ciphertext,
            format('vcf.staged_blocks:%s:%s:%s', p_session_id, v_block.block_no, v_block.line_count));
        IF v_plain IS NULL THEN
            RAISE EXCEPTION 'session %: block % failed authentication', p_session_id, v_block.block_no
                USING ERRCODE = 'VP023',
                      DETAIL = 'The block was modified, moved, cut short or copied from another session.',
                      HINT = 'Nothing of the session was written; purge it and stage the file again.';
        END IF;
        v_text := convert_from(v_plain, 'UTF8');
        v_plain := NULL;  -- a block can be a whole long line: hold it once, not twice
        IF NOT v_header_done THEN
            v_cut := regexp_instr(v_text, '^[^#]', 1, 1, 0, 'n');
            IF v_cut = 0 THEN
                v_header := v_header || v_text;
                v_text := '';
                CONTINUE WHEN v_block.block_no < v_session.block_count - 1;
            ELSE
                v_header := v_header || substr(v_text, 1, v_cut - 1);
                v_text := substr(v_text, v_cut);
            END IF;
            SELECT * INTO v_hdr
              FROM @extschema@._ingest_header(p_session_id, v_header, v_phi_key_id, v_phi_key);
            v_header_done := true;
            v_lines_done := v_hdr.o_header_lines;
        END IF;
        IF v_text <> '' THEN
            EXECUTE format('SELECT * FROM %s($1, $2, $3, $4, $5, $6, $7)', v_engine)
               INTO v_part
              USING p_session_id, v_text, v_lines_done, v_records,
                    v_hdr.o_columns, v_hdr.o_sample_ids, v_hdr.o_fields;
            IF p_strict THEN
                SELECT w.message INTO v_warning FROM pg_temp.vcf_ingest_warnings w
                 ORDER BY w.line_no LIMIT 1;
                IF FOUND THEN
                    RAISE EXCEPTION 'session %: %', p_session_id, v_warning
                        USING ERRCODE = 'VP041',
                              HINT = 'Loaded without strict, this would be a warning.';
                END IF;
            END IF;
            v_lines_done := v_lines_done + regexp_count(v_text, E'\n');
            v_records := v_records + v_part.o_records;
            v_variants := v_variants + v_part.o_variants;
            v_calls := v_calls + v_part.o_calls;
        END IF;
        IF v_progress THEN
            RAISE NOTICE 'vcf_ingest: % of % blocks, % records', v_block.block_no + 1,
                v_session.block_count, v_records
                USING ERRCODE = 'VP090',
                      DETAIL = json_build_object('blocks_done', v_block.block_no + 1,
                                                 'blocks', v_session.block_count,
                                                 'records', v_records)::text;
        END IF;
    END LOOP;
    v_warnings := v_session.warnings || @extschema@._ingest_warnings();
    DROP TABLE pg_temp.vcf_ingest_lines, pg_temp.vcf_ingest_items, pg_temp.vcf_ingest_values,
               pg_temp.vcf_ingest_warnings;

    IF NOT v_header_done OR v_lines_done <> v_session.line_count THEN
        RAISE EXCEPTION 'session %: % lines decrypted, % staged', p_session_id,
            v_lines_done, v_session.line_count
            USING ERRCODE = 'VP024', HINT = 'Purge the session and stage the file again.';
    END IF;

    v_plain := @extschema@._open(v_staging_key, v_session.source_enc,
                                 format('vcf.sessions.source:%s', p_session_id));
    IF v_plain IS NULL THEN
        RAISE EXCEPTION 'session %: the source path does not decrypt', p_session_id
            USING ERRCODE = 'VP025', HINT = 'The session row was modified; purge it and stage the file again.';
    END IF;
    IF v_session.replaces IS NOT NULL THEN
        PERFORM @extschema@._replace_session(v_session.replaces, p_session_id);
    END IF;
    DELETE FROM @extschema@.staged_blocks b WHERE b.session_id = p_session_id;
    PERFORM @extschema@._destroy_key(v_session.staging_key_id);
    BEGIN
        UPDATE @extschema@.sessions s
           SET state = 'ingested',
               source_enc = @extschema@._seal(v_phi_key, v_phi_key_id, v_plain,
                                              format('vcf.sessions.source:%s', p_session_id)),
               records = v_records, variants = v_variants, calls = v_calls,
               samples = cardinality(v_hdr.o_sample_ids), warnings = v_warnings,
               finished_at = clock_timestamp()
         WHERE s.session_id = p_session_id;
    EXCEPTION WHEN unique_violation THEN
        -- A concurrent ingest of the same content committed first: this
        -- UPDATE waited for it, then hit sessions_one_ingested_per_content.
        SELECT s.session_id INTO v_winner FROM @extschema@.sessions s
         WHERE s.content_sha256 = v_session.content_sha256 AND s.state = 'ingested'
           AND s.session_id <> p_session_id;
        RAISE EXCEPTION 'this content is already loaded as session %',
            coalesce(v_winner::text, '(a concurrent ingest)')
            USING ERRCODE = 'VP050', DETAIL = coalesce(v_winner::text, ''),
                  HINT = 'Nothing was written; load it with --reload to replace that session''s records and calls.';
    END;
    PERFORM @extschema@._audit('ingest', p_session_id::text, true,
        jsonb_build_object('records', v_records, 'variants', v_variants, 'calls', v_calls,
                           'samples', cardinality(v_hdr.o_sample_ids),
                           'engine', v_engine::text, 'strict', p_strict,
                           'warnings', jsonb_array_length(v_warnings)));
    RETURN QUERY SELECT p_session_id, v_records, v_variants, v_calls,
                        cardinality(v_hdr.o_sample_ids), 'ingested'::text;
END
$$;

ALTER TABLE @extschema@.records
    ADD COLUMN gt bytea, ADD COLUMN gq bytea, ADD COLUMN dp bytea,
    ADD COLUMN ad bytea, ADD COLUMN pl bytea, ADD COLUMN fmt jsonb;

-- The data: each session's calls, one row per records row and sample index
-- (a sample without a calls row gets NULLs), encoded by the function the
-- PL/pgSQL engine uses, one session at a time. The scratch table is dropped
-- before the script ends: a table this script leaves would become a member
-- of the extension.
DO $migrate$
DECLARE
    v_session uuid;
BEGIN
    DROP TABLE IF EXISTS pg_temp.vcf_ingest_calls;
    CREATE TEMPORARY TABLE vcf_ingest_calls (
        record_no bigint NOT NULL, alt_no integer NOT NULL, sample_index integer NOT NULL,
        gt smallint[], phased boolean, gq integer, dp integer, ad integer[], pl integer[],
        fmt jsonb);
    FOR v_session IN SELECT DISTINCT c.session_id FROM @extschema@.calls c ORDER BY 1 LOOP
        TRUNCATE pg_temp.vcf_ingest_calls;
        INSERT INTO pg_temp.vcf_ingest_calls
               (record_no, alt_no, sample_index, gt, phased, gq, dp, ad, pl, fmt)
        SELECT r.record_no, r.alt_no, ss.sample_index, c.gt, c.phased, c.gq, c.dp, c.ad,
               c.pl, c.fmt
          FROM @extschema@.records r
          JOIN @extschema@.session_samples ss ON ss.session_id = r.session_id
          LEFT JOIN @extschema@.calls c
            ON (c.session_id, c.record_no, c.alt_no, c.sample_id)
             = (r.session_id, r.record_no, r.alt_no, ss.sample_id)
         WHERE r.session_id = v_session;
        UPDATE @extschema@.records r
           SET gt = g.gt, gq = g.gq, dp = g.dp, ad = g.ad, pl = g.pl, fmt = g.fmt
          FROM @extschema@._genotype_columns() g
         WHERE r.session_id = v_session AND r.record_no = g.record_no AND r.alt_no = g.alt_no;
    END LOOP;
    DROP TABLE pg_temp.vcf_ingest_calls;
END
$migrate$;

DROP TABLE @extschema@.calls;

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
REVOKE ALL ON TABLE @extschema@.calls FROM PUBLIC;
GRANT SELECT ON TABLE @extschema@.calls TO vcf_analyst;

-- CREATE OR REPLACE reset the settings vcf._pin_settings had fixed on the
-- replaced functions: pin them again, as every install script ends.
SELECT @extschema@._pin_settings('vcf_pg_loader');

SELECT @extschema@._audit('extension_update', 'vcf_pg_loader', true,
                          '{"from": "0.3.0", "to": "0.4.0"}');
