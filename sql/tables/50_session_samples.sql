-- Which sample is in which column of which file. Distributed by session_id
-- in a Citus cluster, with vcf.sessions and vcf.samples left on the
-- coordinator (docs/scaling.md): so no foreign keys to them, which Citus
-- refuses from a distributed table; vcf._ingest_header is the only writer
-- and takes both ids from rows of the same transaction.
CREATE TABLE @extschema@.session_samples (
    session_id   uuid    NOT NULL,
    sample_index integer NOT NULL CONSTRAINT session_samples_index_positive CHECK (sample_index > 0),
    sample_id    bigint  NOT NULL,
    PRIMARY KEY (session_id, sample_index)
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.session_samples', '');
