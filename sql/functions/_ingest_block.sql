CREATE FUNCTION @extschema@._ingest_block(
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

