CREATE FUNCTION @extschema@._ingest_block(
    p_session_id uuid, p_data text, p_lines_before bigint, p_records_before bigint,
    p_columns integer, p_sample_ids bigint[],
    OUT o_records bigint, OUT o_variants bigint, OUT o_calls bigint)
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_column
DECLARE
    v_bad record;
    v_nsamples integer := cardinality(p_sample_ids);
BEGIN
    -- Parses the data lines of one decrypted block set-based (one statement
    -- per target table, not one call per line) and writes variants (shared,
    -- one per ALT allele), records and calls. Multi-allelic records are split
    -- per ALT; GT is recoded per split variant as bcftools norm -m-any does;
    -- an allele index that is not a number or names no allele of the record
    -- is stored as missing (NULL). Blank lines are skipped but counted, so
    -- line numbers are those of the file. Raises VP040 naming the file line
    -- of the first malformed data line.
    TRUNCATE pg_temp.vcf_ingest_lines;
    INSERT INTO pg_temp.vcf_ingest_lines (line_no, record_no, f)
    SELECT p_lines_before + t.n,
           p_records_before + row_number() OVER (ORDER BY t.n),
           string_to_array(t.line, E'\t')
      FROM string_to_table(rtrim(p_data, E'\n'), E'\n') WITH ORDINALITY AS t(line, n)
     WHERE t.line <> '';
    GET DIAGNOSTICS o_records = ROW_COUNT;

    SELECT l.line_no, cardinality(l.f) AS ncols,
           CASE WHEN cardinality(l.f) <> p_columns THEN 'wrong number of columns'
                WHEN l.f[1] = '' THEN 'empty CHROM'
                WHEN NOT @extschema@._is_pos(l.f[2])
                    THEN 'POS is not a number between 0 and 2147483647'
                WHEN l.f[4] = '' OR l.f[5] = '' THEN 'empty REF or ALT'
                ELSE 'QUAL is not a number in the range of double precision' END AS reason
      INTO v_bad
      FROM pg_temp.vcf_ingest_lines l
     WHERE cardinality(l.f) <> p_columns
        OR l.f[1] = ''
        OR NOT @extschema@._is_pos(l.f[2])
        OR l.f[4] = '' OR l.f[5] = ''
        OR NOT @extschema@._is_qual(l.f[6])
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

    INSERT INTO @extschema@.variants AS v (chrom, pos, ref, alt, allele_key)
    SELECT l.f[1], l.f[2]::integer, l.f[4], a.alt, @extschema@._allele_key(l.f[4], a.alt)
      FROM pg_temp.vcf_ingest_lines l
     CROSS JOIN LATERAL unnest(string_to_array(l.f[5], ',')) AS a(alt)
     ORDER BY 1, 2, 5
        ON CONFLICT ON CONSTRAINT variants_site_alleles_unique DO NOTHING;

    INSERT INTO @extschema@.records
           (session_id, record_no, alt_no, variant_id, id, qual, filter, info, alts)
    SELECT p_session_id, l.record_no, a.n, v.variant_id,
           NULLIF(l.f[3], '.'),
           CASE WHEN l.f[6] <> '.' THEN l.f[6]::double precision END,
           CASE WHEN l.f[7] <> '.' THEN string_to_array(l.f[7], ';') END,
           NULLIF(l.f[8], '.'),
           string_to_array(l.f[5], ',')
      FROM pg_temp.vcf_ingest_lines l
     CROSS JOIN LATERAL unnest(string_to_array(l.f[5], ',')) WITH ORDINALITY AS a(alt, n)
      JOIN @extschema@.variants v
        ON v.chrom = l.f[1] AND v.pos = l.f[2]::integer
       AND v.allele_key = @extschema@._allele_key(l.f[4], a.alt);
    GET DIAGNOSTICS o_variants = ROW_COUNT;

    o_calls := 0;
    IF v_nsamples > 0 THEN
        INSERT INTO @extschema@.calls (session_id, record_no, alt_no, sample_id, gt, phased)
        SELECT p_session_id, g.record_no, a.n, p_sample_ids[g.i],
               CASE WHEN g.gt <> '' THEN
                   ARRAY(SELECT CASE WHEN x.allele !~ '^[0-9]{1,9}$' THEN NULL
                                     WHEN x.allele::integer = 0 THEN 0
                                     WHEN x.allele::integer > g.nalt THEN NULL
                                     WHEN x.allele::integer = a.n THEN 1
                                     ELSE 0 END
                           FROM unnest(string_to_array(translate(g.gt, '|', '/'), '/'))
                                WITH ORDINALITY AS x(allele, k)
                          ORDER BY x.k)::smallint[]
               END,
               CASE WHEN g.gt <> '' THEN strpos(g.gt, '|') > 0 END
          FROM (SELECT l.record_no, s.i,
                       cardinality(string_to_array(l.f[5], ',')) AS nalt,
                       CASE WHEN l.f[9] = 'GT' OR l.f[9] LIKE 'GT:%'
                            THEN split_part(l.f[9 + s.i], ':', 1) END AS gt
                  FROM pg_temp.vcf_ingest_lines l
                 CROSS JOIN generate_series(1, v_nsamples) AS s(i)) AS g
         CROSS JOIN LATERAL generate_series(1, g.nalt) AS a(n);
        GET DIAGNOSTICS o_calls = ROW_COUNT;
    END IF;
END
$$;

