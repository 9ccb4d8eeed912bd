CREATE FUNCTION @extschema@._ingest_header(
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

