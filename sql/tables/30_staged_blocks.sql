-- Encrypted blocks of raw VCF lines (about 1 MiB each), deleted by ingest or purge.
CREATE TABLE @extschema@.staged_blocks (
    session_id uuid    NOT NULL REFERENCES @extschema@.sessions (session_id) ON DELETE CASCADE,
    block_no   integer NOT NULL CONSTRAINT staged_blocks_block_no_not_negative CHECK (block_no >= 0),
    line_count integer NOT NULL CONSTRAINT staged_blocks_line_count_positive CHECK (line_count > 0),
    ciphertext bytea   NOT NULL,
    PRIMARY KEY (session_id, block_no)
);
-- Ciphertext does not compress: store it out of line without trying.
ALTER TABLE @extschema@.staged_blocks ALTER COLUMN ciphertext SET STORAGE EXTERNAL;
COMMENT ON TABLE @extschema@.staged_blocks IS 'A256CBC-HS512 ciphertext of raw VCF lines, bound to session and block number';

