-- The original data line of each record, verbatim, so that a record split
-- into per-ALT rows stays retrievable exactly as the file had it. Genotype
-- data, never PHI (sample names live only in the header).
CREATE TABLE @extschema@.record_lines (
    session_id uuid   NOT NULL,
    record_no  bigint NOT NULL,
    line_no    bigint NOT NULL,
    line       text   NOT NULL,
    PRIMARY KEY (session_id, record_no)
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.record_lines', '');

