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
