CREATE FUNCTION @extschema@._lock(p_lock_name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    -- Takes one of the extension's locks (a row of vcf.locks, FOR UPDATE),
    -- held until the transaction ends; waits while another transaction holds
    -- it. Only the owner can lock those rows (see vcf.locks), so no other
    -- login can take it or hold it to stall the extension. Called by
    -- SECURITY DEFINER functions; granted to no one. Raises VP090 for a lock
    -- that does not exist.
    PERFORM 1 FROM @extschema@.locks l WHERE l.lock_name = p_lock_name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'lock % does not exist', p_lock_name
            USING ERRCODE = 'VP090', HINT = 'The row of vcf.locks was removed; recreate the extension.';
    END IF;
END
$$;
