-- Per-sample genotype of each variant row: gt holds allele indices recoded to
-- the split variant (0 ref, 1 this ALT, 0 any other ALT, NULL missing) as
-- bcftools norm -m-any does; NULL gt means the record has no GT. GQ, DP, AD
-- and PL are promoted to columns (AD and PL sliced per allele); every other
-- FORMAT field is in fmt, typed and sliced (docs/vcf-semantics.md).
CREATE TABLE @extschema@.calls (
    session_id uuid       NOT NULL,
    record_no  bigint     NOT NULL,
    alt_no     smallint   NOT NULL,
    sample_id  bigint     NOT NULL,
    gt         smallint[],
    phased     boolean,
    gq         integer,
    dp         integer,
    ad         integer[],
    pl         integer[],
    fmt        jsonb,
    PRIMARY KEY (session_id, record_no, alt_no, sample_id)
);
-- "one sample's genotypes in a region"
CREATE INDEX calls_sample_id ON @extschema@.calls (sample_id);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.calls', '');

