CREATE FUNCTION @extschema@._ingest_block(
    p_session_id uuid, p_data text, p_first_record bigint, p_header_lines bigint,
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
    -- per ALT; GT is recoded per split variant as bcftools norm -m-any does.
    -- Raises VP040 naming the file line of the first malformed data line.
    TRUNCATE pg_temp.vcf_ingest_lines;
    INSERT INTO pg_temp.vcf_ingest_lines (record_no, f)
    SELECT p_first_record + t.n, string_to_array(t.line, E'\t')
      FROM string_to_table(rtrim(p_data, E'\n'), E'\n') WITH ORDINALITY AS t(line, n);
    GET DIAGNOSTICS o_records = ROW_COUNT;

    SELECT l.record_no, cardinality(l.f) AS ncols,
           CASE WHEN cardinality(l.f) <> p_columns THEN 'wrong number of columns'
                WHEN l.f[1] = '' THEN 'empty CHROM'
                WHEN l.f[2] !~ '^[0-9]{1,10}$' OR l.f[2]::bigint > 2147483647
                    THEN 'POS is not a number between 0 and 2147483647'
                WHEN l.f[4] = '' OR l.f[5] = '' THEN 'empty REF or ALT'
                ELSE 'QUAL is not a number' END AS reason
      INTO v_bad
      FROM pg_temp.vcf_ingest_lines l
     WHERE cardinality(l.f) <> p_columns
        OR l.f[1] = ''
        OR CASE WHEN l.f[2] ~ '^[0-9]{1,10}$' THEN l.f[2]::bigint > 2147483647 ELSE true END
        OR l.f[4] = '' OR l.f[5] = ''
        OR (l.f[6] <> '.' AND l.f[6] !~* '^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)(e[-+]?[0-9]+)?$|^[-+]?(nan|inf|infinity)$')
     ORDER BY l.record_no
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'session %: line %: %', p_session_id, p_header_lines + v_bad.record_no, v_bad.reason
            USING ERRCODE = 'VP040',
                  DETAIL = format('The line has %s columns; the header has %s.', v_bad.ncols, p_columns),
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
               CASE WHEN g.gt IS NOT NULL THEN
                   ARRAY(SELECT CASE WHEN x.allele !~ '^[0-9]+$' THEN NULL
                                     WHEN x.allele::integer = 0 THEN 0
                                     WHEN x.allele::integer = a.n THEN 1
                                     ELSE 0 END
                           FROM unnest(string_to_array(translate(g.gt, '|', '/'), '/'))
                                WITH ORDINALITY AS x(allele, k)
                          ORDER BY x.k)::smallint[]
               END,
               CASE WHEN g.gt IS NOT NULL THEN strpos(g.gt, '|') > 0 END
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

