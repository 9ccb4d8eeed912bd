-- Which sample is in which column of which file.
CREATE TABLE @extschema@.session_samples (
    session_id   uuid    NOT NULL REFERENCES @extschema@.sessions (session_id),
    sample_index integer NOT NULL CONSTRAINT session_samples_index_positive CHECK (sample_index > 0),
    sample_id    bigint  NOT NULL REFERENCES @extschema@.samples (sample_id),
    PRIMARY KEY (session_id, sample_index)
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.session_samples', '');

