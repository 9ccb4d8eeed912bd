CREATE FUNCTION @extschema@._audit_log_check_insert()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    -- A hash is computed by the database, never accepted from a client: a new
    -- audit row comes unchained (chain_no, prev_hash and hash NULL; the
    -- deferred trigger audit_log_seal chains it at commit). The one
    -- exception is a row that is already chained and matches its own hash,
    -- as pg_restore writes them back from a dump of the table; where it sits
    -- in the chain is then for vcf.audit_verify to judge. Raises 42501 for a
    -- row with a hash that does not match.
    IF NEW.chain_no IS NULL AND NEW.prev_hash IS NULL AND NEW.hash IS NULL THEN
        RETURN NEW;
    END IF;
    IF NEW.chain_no IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL
       AND NEW.hash = @extschema@._audit_hash(NEW) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'vcf.audit_log: audit hashes are computed by the database; this row''s hash does not match it'
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Write audit rows through the extension''s functions; leave chain_no, prev_hash and hash out.';
END
$$;

CREATE TRIGGER audit_log_check_insert
    BEFORE INSERT ON @extschema@.audit_log
    FOR EACH ROW EXECUTE FUNCTION @extschema@._audit_log_check_insert();
