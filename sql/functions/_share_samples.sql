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
