CREATE FUNCTION @extschema@.audit_verify(
    p_anchor_chain_no bigint DEFAULT NULL, p_anchor_hash bytea DEFAULT NULL)
RETURNS TABLE (ok boolean, rows_checked bigint, head_chain_no bigint, head_audit_id bigint,
               head_hash bytea, head_logged_at timestamptz, bad_chain_no bigint,
               bad_audit_id bigint, problem text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_zero   bytea := decode(repeat('00', 32), 'hex');
    v_head   record;
    v_bad    record;
    v_count  bigint;
    v_anchor bytea;
BEGIN
    -- Recomputes the hash of every chained row of vcf.audit_log, in chain
    -- order, and reports the first broken link: a missing chain position
    -- (rows removed), a prev_hash that is not the hash of the row before
    -- (a row removed, inserted or rewritten before it), or a row that does
    -- not match its own hash (modified). Then, when an anchor is given (a
    -- chain position and its hash, from vcfctl audit anchor), that the row
    -- there still has that hash: a rewrite of the whole table, hashes
    -- recomputed, is detected only this way. Finally, rows that were never
    -- chained (written with the sealing trigger disabled); rows of the
    -- current transaction are chained at its commit and do not count.
    -- SECURITY DEFINER: auditors verify without reading the table. One row;
    -- ok is true when no problem was found. Raises nothing of its own.
    SELECT a.chain_no, a.audit_id, a.hash, a.logged_at INTO v_head
      FROM @extschema@.audit_log a WHERE a.chain_no IS NOT NULL
     ORDER BY a.chain_no DESC LIMIT 1;
    SELECT count(*) INTO v_count FROM @extschema@.audit_log a WHERE a.chain_no IS NOT NULL;

    SELECT c.chain_no, c.audit_id,
           CASE WHEN c.chain_no <> coalesce(c.before_no, 0) + 1
                THEN format('chain position %s is missing: rows were removed', coalesce(c.before_no, 0) + 1)
                WHEN c.prev_hash <> coalesce(c.before_hash, v_zero)
                THEN 'prev_hash is not the hash of the row before: a row before it was removed, inserted or rewritten'
                ELSE 'the row does not match its hash: it was modified' END AS problem
      INTO v_bad
      FROM (SELECT a.chain_no, a.audit_id, a.prev_hash, a.hash,
                   lag(a.chain_no) OVER w AS before_no, lag(a.hash) OVER w AS before_hash,
                   @extschema@._audit_hash(a) AS recomputed
              FROM @extschema@.audit_log a
             WHERE a.chain_no IS NOT NULL
            WINDOW w AS (ORDER BY a.chain_no)) c
     WHERE c.chain_no <> coalesce(c.before_no, 0) + 1
        OR c.prev_hash <> coalesce(c.before_hash, v_zero)
        OR c.hash <> c.recomputed
     ORDER BY c.chain_no
     LIMIT 1;

    IF v_bad IS NULL AND p_anchor_chain_no IS NOT NULL THEN
        SELECT a.hash INTO v_anchor FROM @extschema@.audit_log a WHERE a.chain_no = p_anchor_chain_no;
        IF NOT FOUND THEN
            SELECT p_anchor_chain_no AS chain_no, NULL::bigint AS audit_id,
                   format('the anchored chain position %s does not exist: the chain was truncated or rewritten',
                          p_anchor_chain_no) AS problem
              INTO v_bad;
        ELSIF v_anchor IS DISTINCT FROM p_anchor_hash THEN
            SELECT a.chain_no, a.audit_id,
                   format('the row at chain position %s differs from the anchor: the chain was rewritten',
                          p_anchor_chain_no) AS problem
              INTO v_bad
              FROM @extschema@.audit_log a WHERE a.chain_no = p_anchor_chain_no;
        END IF;
    END IF;

    IF v_bad IS NULL THEN
        SELECT NULL::bigint AS chain_no, a.audit_id,
               'the row was never chained: it was written with the sealing trigger disabled' AS problem
          INTO v_bad
          FROM @extschema@.audit_log a
         WHERE a.chain_no IS NULL
           AND a.xact_id IS DISTINCT FROM pg_current_xact_id_if_assigned()
         ORDER BY a.audit_id LIMIT 1;
    END IF;

    RETURN QUERY SELECT v_bad.problem IS NULL, v_count, v_head.chain_no, v_head.audit_id,
                        v_head.hash, v_head.logged_at, v_bad.chain_no, v_bad.audit_id, v_bad.problem;
END
$$;
