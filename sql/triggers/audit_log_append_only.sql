CREATE FUNCTION @extschema@._audit_log_refuse_change()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    -- The audit trail is append-only: no row is ever changed or removed, by
    -- anyone, the owner and superusers included. The one UPDATE allowed is
    -- vcf._audit_seal linking a row of its own transaction into the chain:
    -- chain_no, prev_hash and hash go from NULL to values that extend the
    -- chain head, under the chain lock, and nothing else changes. Raises
    -- 42501 for everything else.
    IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND NEW.hash IS NOT NULL
       AND @extschema@._audit_chain_lock_held()
       AND (NEW.audit_id, NEW.logged_at, NEW.session_role, NEW.acting_role, NEW.client_addr,
            NEW.backend_pid, NEW.xact_id, NEW.action, NEW.target, NEW.succeeded, NEW.details)
           IS NOT DISTINCT FROM
           (OLD.audit_id, OLD.logged_at, OLD.session_role, OLD.acting_role, OLD.client_addr,
            OLD.backend_pid, OLD.xact_id, OLD.action, OLD.target, OLD.succeeded, OLD.details)
       AND NEW.hash = @extschema@._audit_hash(NEW)
       AND NEW.prev_hash = coalesce(
               (SELECT a.hash FROM @extschema@.audit_log a WHERE a.chain_no = NEW.chain_no - 1),
               CASE WHEN NEW.chain_no = 1 THEN decode(repeat('00', 32), 'hex') END)
       AND NOT EXISTS (SELECT 1 FROM @extschema@.audit_log a WHERE a.chain_no >= NEW.chain_no) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'vcf.audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Audit rows cannot be changed or removed, by design.';
END
$$;

CREATE TRIGGER audit_log_no_update_delete
    BEFORE UPDATE OR DELETE ON @extschema@.audit_log
    FOR EACH ROW EXECUTE FUNCTION @extschema@._audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON @extschema@.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._audit_log_refuse_change();
