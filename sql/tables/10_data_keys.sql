-- Wrapped data keys. A plaintext key is never stored: only the provider's
-- wrapped form, and only until the key is destroyed (crypto-shredding).
-- A PHI key's life: active (new values) -> retiring (a rotation is moving its
-- values to the new active key; still read) -> retired (no value uses it) ->
-- destroyed.
CREATE TABLE @extschema@.data_keys (
    key_id             uuid        PRIMARY KEY,
    purpose            text        NOT NULL
        CONSTRAINT data_keys_purpose_known CHECK (purpose IN ('staging', 'phi')),
    provider           text        NOT NULL
        CONSTRAINT data_keys_provider_known CHECK (provider IN ('local', 'aws-kms', 'env')),
    kek_id             text        NOT NULL,
    wrapped_key        bytea,
    encryption_context jsonb       NOT NULL DEFAULT '{}',
    key_check          bytea       NOT NULL
        CONSTRAINT data_keys_key_check_is_16_bytes CHECK (length(key_check) = 16),
    state              text        NOT NULL DEFAULT 'active'
        CONSTRAINT data_keys_state_known CHECK (state IN ('active', 'retiring', 'retired', 'destroyed')),
    created_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    retired_at         timestamptz,
    destroyed_at       timestamptz,
    -- The wrapped form a rewrap replaced, kept while the current one has
    -- been proven only by the key admin's client (vcf.rewrap_key with
    -- p_unwrapped_key): until the server unwraps the current form itself
    -- (in-server unlock or rewrap), vcf.rewrap_undo puts it back, or the
    -- owner lets it go (vcf._forget_previous_wrapping). Erased with the
    -- key (trigger data_keys_shred_previous).
    previous_provider     text
        CONSTRAINT data_keys_previous_provider_known CHECK (previous_provider IN ('local', 'aws-kms', 'env')),
    previous_kek_id       text,
    previous_wrapped_key  bytea,
    previous_replaced_at  timestamptz,
    CONSTRAINT data_keys_wrapped_until_destroyed
        CHECK ((state = 'destroyed') = (wrapped_key IS NULL)),
    CONSTRAINT data_keys_previous_whole
        CHECK (num_nulls(previous_provider, previous_kek_id, previous_wrapped_key, previous_replaced_at) IN (0, 4)),
    CONSTRAINT data_keys_previous_shredded
        CHECK (state <> 'destroyed' OR previous_wrapped_key IS NULL)
);
CREATE UNIQUE INDEX data_keys_one_active_phi_key
    ON @extschema@.data_keys (purpose) WHERE purpose = 'phi' AND state = 'active';
CREATE UNIQUE INDEX data_keys_one_retiring_phi_key
    ON @extschema@.data_keys (purpose) WHERE purpose = 'phi' AND state = 'retiring';
COMMENT ON TABLE @extschema@.data_keys IS 'Wrapped data keys (never plaintext); destroyed keys keep their row without key material';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.data_keys', '');

