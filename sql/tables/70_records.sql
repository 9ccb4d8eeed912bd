-- Per-file site data, one row per ALT allele of each data line (alt_no counts
-- from 1); info is typed from the header and sliced per allele (see
-- docs/vcf-semantics.md); alts keeps the line's full ALT list. Written only
-- by vcf_ingest, which guarantees the references.
--
-- The genotypes of all the file's samples for this ALT are its last six
-- columns, dense over the file's sample order (session_samples.sample_index),
-- in the encoding of docs/architecture.md "Genotype columns": gt one byte per
-- sample (ploidy up to 2), gq and dp at a fixed width per row, ad and pl
-- fixed-width lists, fmt a JSON array of the other FORMAT fields. Each is
-- NULL when no sample has a value. The view vcf.calls decodes them into one
-- row per (ALT, sample).
CREATE TABLE @extschema@.records (
    session_id uuid             NOT NULL,
    record_no  bigint           NOT NULL,
    alt_no     smallint         NOT NULL,
    variant_id bigint           NOT NULL,
    id         text,
    qual       double precision,
    filter     text[],
    info       jsonb,
    alts       text[]           NOT NULL,
    gt         bytea,
    gq         bytea,
    dp         bytea,
    ad         bytea,
    pl         bytea,
    fmt        jsonb,
    PRIMARY KEY (session_id, record_no, alt_no)
);
-- "all carriers of a variant", "variants in a region with an INFO filter"
CREATE INDEX records_variant_id ON @extschema@.records (variant_id);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.records', '');

