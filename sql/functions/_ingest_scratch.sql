CREATE FUNCTION @extschema@._ingest_scratch()
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

