-- vcf_pg_loader 0.2.0 -> 0.3.0. Written by hand (extension/released/README.md
-- says how): ALTER EXTENSION vcf_pg_loader UPDATE TO '0.3.0' runs it in one
-- transaction, as the extension owner; tests/python/integration/
-- test_upgrade.py checks that it leaves the objects a fresh 0.3.0 install has.
\echo Use "ALTER EXTENSION vcf_pg_loader UPDATE TO '0.3.0'" to load this file. \quit

-- Issue 11, item 2: the ingest's lookup of variant ids no longer depends on
-- the statistics of vcf.variants. vcf._variant_ids probes the unique index
-- under a fixed plan; the PL/pgSQL engine uses it instead of joining the
-- table (the PL/Python engine, vcf_pg_loader_plpython 0.2.0, too).
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
REVOKE ALL ON FUNCTION @extschema@._variant_ids(text[], integer[], bytea[]) FROM PUBLIC;

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
    -- sliced per ALT), record_lines and calls (GT recoded, GQ/DP/AD/PL
    -- promoted, other FORMAT fields typed and sliced), exactly as
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
    INSERT INTO @extschema@.records
           (session_id, record_no, alt_no, variant_id, id, qual, filter, info, alts)
    SELECT p_session_id, l.record_no, a.n, v_ids[(l.alleles_before + a.n)::integer],
           NULLIF(l.f[3], '.'),
           CASE WHEN l.f[6] <> '.' THEN l.f[6]::double precision END,
           CASE WHEN l.f[7] <> '.' THEN string_to_array(l.f[7], ';') END,
           iv.info,
           l.alts
      FROM (SELECT x.*, sum(cardinality(x.alts)) OVER (ORDER BY x.record_no)
                        - cardinality(x.alts) AS alleles_before
              FROM pg_temp.vcf_ingest_lines x) AS l
     CROSS JOIN LATERAL unnest(l.alts) WITH ORDINALITY AS a(alt, n)
      LEFT JOIN (SELECT x.record_no, x.alt_no, jsonb_object_agg(x.key, x.value ORDER BY x.ord) AS info
                   FROM pg_temp.vcf_ingest_values x WHERE x.sample = 0
                  GROUP BY x.record_no, x.alt_no) AS iv
        ON iv.record_no = l.record_no AND iv.alt_no = a.n;
    GET DIAGNOSTICS o_variants = ROW_COUNT;

    o_calls := 0;
    IF v_nsamples > 0 THEN
        INSERT INTO @extschema@.calls
               (session_id, record_no, alt_no, sample_id, gt, phased, gq, dp, ad, pl, fmt)
        SELECT p_session_id, l.record_no, a.n, p_sample_ids[s.i],
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
END
$$;

-- Issue 11, item 3: with vcf_pg_loader.ingest_concurrent on (vcfctl load
-- --jobs), the variants and samples an ingest shares with other files are
-- committed apart, so concurrent ingests do not wait on each other.
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
REVOKE ALL ON FUNCTION @extschema@._ingest_concurrent() FROM PUBLIC;

CREATE FUNCTION @extschema@._commit_apart(p_statement text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_target  text;
    v_message text;
BEGIN
    -- Runs p_statement (a call of one of the extension's own functions, with
    -- its arguments as literals) in a transaction of its own, committed
    -- before this returns, through the audit's dblink loopback connection
    -- (vcf._audit_loopback: this database, as the extension owner). Used by
    -- a concurrent ingest for the rows it shares with other files, so that
    -- an ingest of another file never waits on them until this one commits.
    -- The statement carries no plaintext PHI and no key: sample names go
    -- already encrypted. Raises VP053 when it cannot be run there.
    v_target := @extschema@._audit_loopback();
    IF v_target::name::text = ANY (@extschema@._dblink_connection_names()) THEN
        RAISE EXCEPTION 'cannot commit shared rows apart: a dblink connection of this session is named like the audit loopback'
            USING ERRCODE = 'VP053', HINT = 'Close it with dblink_disconnect and retry.';
    END IF;
    BEGIN
        -- the loopback is the owner's session: a setting of the owner's
        -- must not make it send the rows on again
        PERFORM @extschema@._dblink_exec(v_target, format(
            'BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = %L;'
            ' SET LOCAL statement_timeout = %L; SET LOCAL vcf_pg_loader.ingest_concurrent_now = off;'
            ' %s; COMMIT', '60s', '600s', p_statement));
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT;
        RAISE EXCEPTION 'cannot commit shared rows apart: %', left(v_message, 500)
            USING ERRCODE = 'VP053',
                  HINT = 'The extension owner must reach this database through dblink: see "Audit loopback" in docs/security.md; or ingest without vcf_pg_loader.ingest_concurrent.';
    END;
END
$$;
REVOKE ALL ON FUNCTION @extschema@._commit_apart(text) FROM PUBLIC;

CREATE FUNCTION @extschema@._share_variants(
    p_chrom text[], p_pos integer[], p_ref text[], p_alt text[], p_allele_key bytea[])
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    -- Adds a block's alleles to the shared vcf.variants, those not there
    -- yet; both ingest engines call it, then look the ids up with
    -- vcf._variant_ids. In key order, so that two ingests adding the same
    -- alleles take their row locks in one order and cannot deadlock. A
    -- concurrent ingest (vcf._ingest_concurrent) commits them apart
    -- (vcf._commit_apart), through this same function: another file's
    -- ingest then finds them committed instead of waiting until this one
    -- commits; if this ingest fails they stay, used by no record.
    IF @extschema@._ingest_concurrent() THEN
        PERFORM @extschema@._commit_apart(format(
            'SELECT @extschema@._share_variants(%L::text[], %L::integer[], %L::text[], %L::text[], %L::bytea[])',
            p_chrom, p_pos, p_ref, p_alt, p_allele_key));
        RETURN;
    END IF;
    INSERT INTO @extschema@.variants AS v (chrom, pos, ref, alt, allele_key)
    SELECT u.chrom, u.pos, u.ref, u.alt, u.allele_key
      FROM unnest(p_chrom, p_pos, p_ref, p_alt, p_allele_key) AS u(chrom, pos, ref, alt, allele_key)
     ORDER BY 1, 2, 5
        ON CONFLICT ON CONSTRAINT variants_site_alleles_unique DO NOTHING;
END
$$;
REVOKE ALL ON FUNCTION @extschema@._share_variants(text[], integer[], text[], text[], bytea[]) FROM PUBLIC;

CREATE FUNCTION @extschema@._share_samples(
    p_sample_id bigint[], p_name_enc bytea[], p_blind_index bytea[])
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    -- Adds the samples a header names for the first time (ids from the
    -- sequence, names already encrypted with the id as associated data);
    -- one another ingest added meanwhile is skipped, and the caller looks
    -- every id up again by blind index. In blind index order, so that two
    -- ingests adding the same samples cannot deadlock. A concurrent ingest
    -- (vcf._ingest_concurrent) commits them apart, as vcf._share_variants
    -- does: ingests of files with the same samples (one file per
    -- chromosome) then do not wait on each other; if this ingest fails they
    -- stay, encrypted like every name, in no session.
    IF @extschema@._ingest_concurrent() THEN
        PERFORM @extschema@._commit_apart(format(
            'SELECT @extschema@._share_samples(%L::bigint[], %L::bytea[], %L::bytea[])',
            p_sample_id, p_name_enc, p_blind_index));
        RETURN;
    END IF;
    INSERT INTO @extschema@.samples (sample_id, name_enc, blind_index)
    SELECT u.sample_id, u.name_enc, u.blind_index
      FROM unnest(p_sample_id, p_name_enc, p_blind_index) AS u(sample_id, name_enc, blind_index)
     ORDER BY u.blind_index
        ON CONFLICT ON CONSTRAINT samples_blind_index_unique DO NOTHING;
END
$$;
REVOKE ALL ON FUNCTION @extschema@._share_samples(bigint[], bytea[], bytea[]) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@._ingest_header(
    p_session_id uuid, p_header text, p_phi_key_id uuid, p_phi_key bytea,
    OUT o_columns integer, OUT o_sample_ids bigint[], OUT o_header_lines bigint,
    OUT o_fields jsonb)
LANGUAGE plpgsql VOLATILE
-- Every sample column is looked up by its blind index, once per sample, with
-- plans cached from the first lookups: planned while vcf.samples was small
-- (or its statistics were), a sequential scan would be kept for all of them,
-- and a header of 100,000 new samples would read the table 100,000 times as it
-- grows (quadratic). The lookups are index lookups whatever the statistics say.
SET enable_seqscan = off
AS $$
DECLARE
    v_all     text[] := string_to_array(rtrim(p_header, E'\n'), E'\n');
    v_lines   text[] := array_remove(v_all, '');
    v_columns text[];
    v_name    text;
    v_blind   bytea;
    v_id      bigint;
    v_dup     record;
    v_retiring_key bytea;
    v_new_ids   bigint[] := '{}';
    v_new_enc   bytea[] := '{}';
    v_new_blind bytea[] := '{}';
    v_new_at    integer[] := '{}';
BEGIN
    -- Checks the header of a session being ingested, stores it encrypted
    -- under the PHI key, and maps its sample columns to pseudonymous sample
    -- ids through the blind index (creating samples seen for the first
    -- time, names encrypted with the sample id as associated data; during a
    -- key rotation names are looked up under the retiring key too). Returns
    -- the INFO and FORMAT definitions (ID, Number, Type; the first wins) as
    -- {"INFO": {id: {"number": .., "type": ..}}, "FORMAT": {..}}.
    -- Raises VP030-VP033 for file-level faults; messages carry no PHI.
    IF p_header = '' OR v_lines[1] NOT LIKE '##fileformat=VCF%' THEN
        RAISE EXCEPTION 'session %: not a VCF file (line 1 is not ##fileformat=VCF...)', p_session_id
            USING ERRCODE = 'VP030', HINT = 'Only VCF text files (plain, gzip or bgzip) can be loaded.';
    END IF;
    IF v_lines[cardinality(v_lines)] NOT LIKE '#CHROM%' THEN
        RAISE EXCEPTION 'session %: the header has no #CHROM line before the data', p_session_id
            USING ERRCODE = 'VP031', HINT = 'The last header line must be the #CHROM column header.';
    END IF;
    v_columns := string_to_array(v_lines[cardinality(v_lines)], E'\t');
    IF cardinality(v_columns) < 8 OR (cardinality(v_columns) > 8 AND v_columns[9] <> 'FORMAT') THEN
        RAISE EXCEPTION 'session %: line %: the #CHROM line has % columns; it needs 8, or FORMAT and samples after them',
            p_session_id, cardinality(v_all), cardinality(v_columns)
            USING ERRCODE = 'VP032', HINT = 'Columns are separated by single TAB characters.';
    END IF;
    -- grouped, not a self-join: that was quadratic in the sample count
    SELECT min(u.i) AS i, (array_agg(u.i ORDER BY u.i))[2] AS j INTO v_dup
      FROM unnest(v_columns[10:]) WITH ORDINALITY AS u(name, i)
     GROUP BY u.name HAVING count(*) > 1
     ORDER BY 1 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'session %: sample columns % and % have the same name', p_session_id, v_dup.i, v_dup.j
            USING ERRCODE = 'VP033', HINT = 'Sample names must be unique within a file.';
    END IF;

    SELECT jsonb_build_object(
               'INFO', coalesce(jsonb_object_agg(d.id, d.def) FILTER (WHERE d.kind = 'INFO'), '{}'),
               'FORMAT', coalesce(jsonb_object_agg(d.id, d.def) FILTER (WHERE d.kind = 'FORMAT'), '{}'))
      INTO o_fields
      FROM (SELECT DISTINCT ON (m.kind, m.id) m.kind, m.id,
                   jsonb_build_object(
                       'number', CASE WHEN m.number ~ '^([0-9]+|A|R|G|\.)$' THEN m.number ELSE '.' END,
                       'type', CASE WHEN m.type IN ('Integer', 'Float', 'Flag', 'Character', 'String')
                                    THEN m.type ELSE 'String' END) AS def
              FROM (SELECT x[1] AS kind, l.ord,
                           substring(x[2] FROM '(?:^|,)ID=([^,>]+)') AS id,
                           substring(x[2] FROM '(?:^|,)Number=([^,>]+)') AS number,
                           substring(x[2] FROM '(?:^|,)Type=([^,>]+)') AS type
                      FROM unnest(v_lines) WITH ORDINALITY AS l(line, ord)
                     CROSS JOIN LATERAL regexp_match(l.line, '^##(INFO|FORMAT)=<(.*)>\s*$') AS x) AS m
             WHERE m.id IS NOT NULL
             ORDER BY m.kind, m.id, m.ord) AS d;

    o_columns := cardinality(v_columns);
    -- every header line counts, blank ones too, so data line numbers are the file's
    o_header_lines := length(p_header) - length(replace(p_header, E'\n', ''));
    o_sample_ids := '{}';
    IF o_columns > 9 THEN
        -- a rotation in progress: that key must be unlocked too (vcfctl does it)
        SELECT @extschema@._unlocked_key(k.key_id) INTO v_retiring_key
          FROM @extschema@.data_keys k WHERE k.purpose = 'phi' AND k.state = 'retiring';
    END IF;
    FOR i IN 10 .. o_columns LOOP
        v_name := v_columns[i];
        v_blind := @extschema@._blind_index(p_phi_key, v_name);
        SELECT s.sample_id INTO v_id FROM @extschema@.samples s WHERE s.blind_index = v_blind;
        IF NOT FOUND AND v_retiring_key IS NOT NULL THEN
            -- during a rotation, a name not yet moved has its index under the old key
            SELECT s.sample_id INTO v_id FROM @extschema@.samples s
             WHERE s.blind_index = @extschema@._blind_index(v_retiring_key, v_name);
        END IF;
        IF NOT FOUND THEN
            v_id := nextval(pg_get_serial_sequence('@extschema@.samples', 'sample_id'));
            v_new_ids := v_new_ids || v_id;
            v_new_enc := v_new_enc || @extschema@._seal(p_phi_key, p_phi_key_id, convert_to(v_name, 'UTF8'),
                                                        format('vcf.samples.name:%s', v_id));
            v_new_blind := v_new_blind || v_blind;
            v_new_at := v_new_at || (i - 9);
        END IF;
        o_sample_ids := o_sample_ids || v_id;
    END LOOP;
    IF cardinality(v_new_ids) > 0 THEN
        -- all new samples at once, then their ids again: a concurrent ingest
        -- may have added some meanwhile (vcf._share_samples)
        PERFORM @extschema@._share_samples(v_new_ids, v_new_enc, v_new_blind);
        FOR j IN 1 .. cardinality(v_new_ids) LOOP
            SELECT s.sample_id INTO STRICT v_id FROM @extschema@.samples s
             WHERE s.blind_index = v_new_blind[j];
            o_sample_ids[v_new_at[j]] := v_id;
        END LOOP;
    END IF;
    INSERT INTO @extschema@.session_samples (session_id, sample_index, sample_id)
    SELECT p_session_id, u.n, u.sample_id
      FROM unnest(o_sample_ids) WITH ORDINALITY AS u(sample_id, n);

    UPDATE @extschema@.sessions
       SET header_enc = @extschema@._seal(p_phi_key, p_phi_key_id, convert_to(p_header, 'UTF8'),
                                          format('vcf.sessions.header:%s', p_session_id))
     WHERE session_id = p_session_id;
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

CREATE OR REPLACE FUNCTION @extschema@.vcf_ingest(
    p_session_id uuid, engine text DEFAULT NULL, strict boolean DEFAULT NULL)
RETURNS TABLE (session_id uuid, records bigint, variants bigint, calls bigint,
               samples integer, state text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_engine        text;
    v_strict        boolean;
    v_sqlstate      text;
    v_message       text;
    v_details       jsonb;
    v_audit_message text;
BEGIN
    -- The SQL entry point of ingest: vcf._ingest as the extension owner
    -- (SECURITY DEFINER), in the caller's transaction. Options (named as
    -- the issue and docs name them): engine => 'plpython' | 'plpgsql' |
    -- 'auto' (default: plpython when the companion is installed) and
    -- strict => true (warnings are errors); when not given, the settings
    -- vcf_pg_loader.ingest_engine and vcf_pg_loader.ingest_strict (e.g. SET
    -- LOCAL in the same transaction) supply them. With the setting
    -- vcf_pg_loader.ingest_concurrent on (vcfctl load --jobs), the rows this
    -- file shares with others (variants, samples) are committed apart, block
    -- by block (vcf._share_variants), so that ingests of other files running
    -- at the same time never wait for this one; it needs READ COMMITTED
    -- (VP052) and the audit loopback (VP053). A failure, including a
    -- statement_timeout or a cancel (query_canceled, which WHEN OTHERS does
    -- not catch), is audited before it propagates, in an autonomous
    -- transaction (vcf._audit_autonomous), so that its audit row survives
    -- the rollback: an 'ingest' row with succeeded = false, the SQLSTATE and,
    -- for the extension's own VPxxx errors (which never quote file content)
    -- and permission refusals (42501, e.g. another login's session), the
    -- message. Re-raises the original error unchanged (VP001-VP051, 42501
    -- and others, see vcf._ingest); when the failure row itself cannot be
    -- written, raises VP070 instead, naming the original SQLSTATE.
    BEGIN
        v_engine := coalesce(engine,
                             nullif(current_setting('vcf_pg_loader.ingest_engine', true), ''));
        v_strict := coalesce(strict,
                             nullif(current_setting('vcf_pg_loader.ingest_strict', true), '')::boolean,
                             false);
        -- transaction-local, read by vcf._ingest_concurrent
        PERFORM set_config('vcf_pg_loader.ingest_concurrent_now',
            CASE WHEN coalesce(nullif(current_setting('vcf_pg_loader.ingest_concurrent', true), '')::boolean,
                               false)
                 THEN 'on' ELSE 'off' END, true);
        RETURN QUERY SELECT * FROM @extschema@._ingest(p_session_id, v_engine, v_strict);
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        GET STACKED DIAGNOSTICS v_sqlstate = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
        v_details := jsonb_strip_nulls(jsonb_build_object(
            'sqlstate', v_sqlstate,
            'error', CASE WHEN v_sqlstate LIKE 'VP%' OR v_sqlstate = '42501'
                          THEN left(v_message, 1000) END,
            'autonomous', true));
        BEGIN
            PERFORM @extschema@._audit_autonomous('ingest', p_session_id::text, false, v_details);
        EXCEPTION WHEN OTHERS OR query_canceled THEN
            GET STACKED DIAGNOSTICS v_audit_message = MESSAGE_TEXT;
            RAISE EXCEPTION 'the ingest failed with SQLSTATE % and its audit row could not be written', v_sqlstate
                USING ERRCODE = 'VP070',
                      DETAIL = format('ingest error: SQLSTATE %s%s; audit row: %s', v_sqlstate,
                                      CASE WHEN v_sqlstate LIKE 'VP%' THEN ': ' || left(v_message, 1000) ELSE '' END,
                                      left(v_audit_message, 500)),
                      HINT = 'Nothing of the session was written; the extension owner must reach this database through dblink: see "Audit loopback" in docs/security.md.';
        END;
        RAISE;
    END;
END
$$;


-- Issue 11, item 5: vcf.session_samples is distributed by session_id in a
-- Citus cluster, and vcf.sessions and vcf.samples stay on the coordinator
-- (docs/scaling.md); Citus refuses foreign keys from a distributed table to
-- a local one. vcf._ingest_header, the only writer, guarantees both ids.
ALTER TABLE @extschema@.session_samples
    DROP CONSTRAINT session_samples_session_id_fkey,
    DROP CONSTRAINT session_samples_sample_id_fkey;

-- CREATE OR REPLACE reset the settings vcf._pin_settings had fixed on the
-- replaced functions: pin them again, as every install script ends.
SELECT @extschema@._pin_settings('vcf_pg_loader');

SELECT @extschema@._audit('extension_update', 'vcf_pg_loader', true,
                          '{"from": "0.2.0", "to": "0.3.0"}');
