CREATE FUNCTION @extschema@._data_keys_shred_previous()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    -- Crypto-shredding erases every wrapped form of a key: when a key
    -- becomes destroyed, the wrapped form a rewrap kept for undo
    -- (previous_*) goes with its current one, whoever destroys it
    -- (vcf._destroy_key, ingest, purge). CHECK data_keys_previous_shredded
    -- holds it.
    IF NEW.state = 'destroyed' THEN
        NEW.previous_provider := NULL;
        NEW.previous_kek_id := NULL;
        NEW.previous_wrapped_key := NULL;
        NEW.previous_replaced_at := NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER data_keys_shred_previous
    BEFORE UPDATE OF state ON @extschema@.data_keys
    FOR EACH ROW WHEN (NEW.state = 'destroyed')
    EXECUTE FUNCTION @extschema@._data_keys_shred_previous();
