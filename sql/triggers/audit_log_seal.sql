CREATE FUNCTION @extschema@._audit_seal()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_head record;
    v_row  @extschema@.audit_log%ROWTYPE;
BEGIN
    -- Links a queued audit row (vcf.audit_seal_queue) into the hash chain
    -- when its transaction commits (deferred constraint trigger), and
    -- removes it from the queue. Takes the chain lock, held from then until
    -- the commit ends; reads the chain head; sets chain_no = head + 1,
    -- prev_hash = the head's hash (32 zero bytes for the first row) and
    -- hash = sha256(prev_hash || vcf._audit_canonical(row)). SECURITY
    -- DEFINER: deferred triggers run as whoever commits. In REPEATABLE READ
    -- or SERIALIZABLE, a head committed after the transaction's snapshot
    -- makes chain_no collide: raised as 40001 so the client retries; the
    -- chain never forks.
    DELETE FROM @extschema@.audit_seal_queue q WHERE q.audit_id = NEW.audit_id;
    SELECT * INTO v_row FROM @extschema@.audit_log a WHERE a.audit_id = NEW.audit_id;
    IF NOT FOUND OR v_row.hash IS NOT NULL THEN
        RETURN NULL;
    END IF;
    PERFORM @extschema@._audit_chain_lock();
    SELECT a.chain_no, a.hash INTO v_head
      FROM @extschema@.audit_log a WHERE a.chain_no IS NOT NULL
     ORDER BY a.chain_no DESC LIMIT 1;
    v_row.chain_no := coalesce(v_head.chain_no, 0) + 1;
    v_row.prev_hash := coalesce(v_head.hash, decode(repeat('00', 32), 'hex'));
    v_row.hash := @extschema@._audit_hash(v_row);
    BEGIN
        UPDATE @extschema@.audit_log
           SET chain_no = v_row.chain_no, prev_hash = v_row.prev_hash, hash = v_row.hash
         WHERE audit_id = v_row.audit_id AND hash IS NULL;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'audit row % cannot be chained: the chain grew after this transaction''s snapshot',
            v_row.audit_id
            USING ERRCODE = 'serialization_failure',
                  HINT = 'Retry the transaction (or run it in READ COMMITTED).';
    END;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER audit_log_seal
    AFTER INSERT ON @extschema@.audit_seal_queue
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION @extschema@._audit_seal();
