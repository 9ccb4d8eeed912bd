-- The audit trail and the role model, from SQL:
--   * vcf.audit_log's shape: chain columns, unique chain_no, the triggers
--     (append-only, insert check) and the deferred sealing trigger on
--     vcf.audit_seal_queue; the canonical encoding and hash;
--   * the five project roles exist (NOLOGIN), no privilege on vcf.audit_log
--     for anyone but its owner, nothing for PUBLIC;
--   * every project role is refused UPDATE, DELETE, TRUNCATE, INSERT (forged
--     hash), ALTER TABLE ... DISABLE TRIGGER, ALTER TABLE, DROP TABLE and the
--     internal writer vcf._audit;
--   * autonomous rows (they survive rollback, so this file leaves some behind,
--     all with obviously fake targets): a failed vcf_ingest, a reveal refused
--     for the wrong role and for a missing reason, a refused lookup, a refused
--     grant; the acting role is recorded through SECURITY DEFINER;
--   * rows of the transaction are visible at once and chained at commit
--     (tested with SET CONSTRAINTS ... IMMEDIATE): chain_no, prev_hash, hash;
--     the owner cannot change a row, sealed or not, nor insert a forged hash;
--   * vcf.audit_verify finds an edited row (triggers disabled with
--     session_replication_role), a row never chained, and an anchor mismatch;
--   * vcf.grant_role / vcf.revoke_role grant, revoke and audit.
-- Everything else is rolled back.
BEGIN;
SELECT plan(128);
SET LOCAL client_min_messages = warning;

\set fake_sample '-4242'
\set fake_session '00000000-0000-4000-8000-0000000a0d17'

-- The SQLSTATE of a statement run as a role ('00000' if it succeeds).
CREATE FUNCTION pg_temp.sqlstate_as(p_role name, p_sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', p_role);
    BEGIN
        EXECUTE p_sql;
    EXCEPTION WHEN OTHERS THEN
        RESET ROLE;
        RETURN SQLSTATE;
    END;
    RESET ROLE;
    RETURN '00000';
END
$$;
CREATE FUNCTION pg_temp.audit_rows(p_action text, p_target text) RETURNS integer LANGUAGE sql AS $$
    SELECT count(*)::integer FROM vcf.audit_log WHERE action = p_action AND target IS NOT DISTINCT FROM p_target
$$;

-- ---------------------------------------------------------------- shape
SELECT has_column('vcf', 'audit_log', c, format('vcf.audit_log has column %s', c))
  FROM unnest(ARRAY['audit_id', 'chain_no', 'logged_at', 'session_role', 'acting_role', 'client_addr',
                    'backend_pid', 'xact_id', 'action', 'target', 'succeeded', 'details',
                    'prev_hash', 'hash']) AS c;
SELECT col_is_unique('vcf', 'audit_log', 'chain_no', 'chain_no is unique: the chain cannot fork');
SELECT has_trigger('vcf', 'audit_log', t, format('vcf.audit_log has trigger %s', t))
  FROM unnest(ARRAY['audit_log_no_update_delete', 'audit_log_no_truncate', 'audit_log_check_insert']) AS t;
SELECT ok((SELECT tgdeferrable AND tginitdeferred FROM pg_trigger
            WHERE tgrelid = 'vcf.audit_seal_queue'::regclass AND tgname = 'audit_log_seal'),
          'audit rows are chained by a deferred constraint trigger on vcf.audit_seal_queue');
SELECT is(vcf._audit_canonical(ROW(7, 3, '2025-01-02 03:04:05.678901+00', 'alice', 'vcf_loader',
                                   '10.0.0.1', 4242, '99', 'stage', 'some-target', true,
                                   '{"b": 1, "a": "x"}', NULL, NULL)::vcf.audit_log),
          '["vcf-pg-loader audit v1", 7, 3, "2025-01-02T03:04:05.678901Z", "alice", "vcf_loader", '
          '"10.0.0.1/32", 4242, "99", "stage", "some-target", true, {"a": "x", "b": 1}]',
          'the canonical encoding: a jsonb array of the columns, UTC time with microseconds');
SELECT is(vcf._audit_hash(ROW(7, 3, '2025-01-02 03:04:05.678901+00', 'alice', 'vcf_loader',
                              '10.0.0.1', 4242, '99', 'stage', 'some-target', true,
                              '{"b": 1, "a": "x"}', decode(repeat('ab', 32), 'hex'), NULL)::vcf.audit_log),
          sha256(decode(repeat('ab', 32), 'hex') || convert_to(
              '["vcf-pg-loader audit v1", 7, 3, "2025-01-02T03:04:05.678901Z", "alice", "vcf_loader", '
              '"10.0.0.1/32", 4242, "99", "stage", "some-target", true, {"a": "x", "b": 1}]', 'UTF8')),
          'the hash is sha256(prev_hash || canonical encoding)');

-- ---------------------------------------------------------------- roles and privileges
SELECT is((SELECT count(*)::integer FROM pg_roles
            WHERE rolname = ANY (vcf._project_roles()) AND NOT rolcanlogin AND NOT rolsuper),
          5, 'the five project roles exist, NOLOGIN, not superusers');
SELECT is_empty($$
    SELECT a.grantee::regrole, a.privilege_type
      FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
     WHERE c.oid = 'vcf.audit_log'::regclass AND a.grantee <> c.relowner$$,
    'no role but the owner has any privilege on vcf.audit_log');
SELECT is_empty($$
    SELECT c.oid::regclass, a.grantee::regrole, a.privilege_type
      FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
     WHERE c.relnamespace = 'vcf'::regnamespace AND c.relname IN ('audit_seal_queue', 'audit_log_audit_id_seq')
       AND a.grantee <> c.relowner$$,
    'nor on the seal queue or the audit id sequence');
SELECT is_empty($$
    SELECT p.oid::regprocedure, a.grantee::regrole
      FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
     WHERE p.pronamespace = 'vcf'::regnamespace AND p.proname LIKE '\_%' AND a.grantee <> p.proowner$$,
    'no internal function (vcf._*) is granted to anyone');
SELECT is_empty($$
    SELECT p.oid::regprocedure FROM pg_proc p
     WHERE p.pronamespace = 'vcf'::regnamespace AND p.proname NOT LIKE '\_%'
       AND p.proname NOT IN ('grant_role', 'revoke_role', 'plpython_info')
       AND NOT EXISTS (SELECT 1 FROM aclexplode(p.proacl) a
                        WHERE a.grantee::regrole::name = ANY (vcf._project_roles()))$$,
    'every public function but grant_role, revoke_role and plpython_info is granted to a project role');
SELECT ok(has_function_privilege(r, 'vcf.reveal_sample(bigint, text)', 'EXECUTE')
          AND has_function_privilege(r, 'vcf.find_sample(text, text)', 'EXECUTE'),
          format('%s may call reveal_sample and find_sample (refusals are audited inside)', r))
  FROM unnest(vcf._project_roles()) AS r;

-- ---------------------------------------------------------------- append-only for every project role
SELECT is(pg_temp.sqlstate_as(r, s.sql), '42501', format('%s: %s is refused', r, s.label))
  FROM unnest(vcf._project_roles()) AS r,
       (VALUES ('UPDATE', 'UPDATE vcf.audit_log SET succeeded = true'),
               ('DELETE', 'DELETE FROM vcf.audit_log'),
               ('TRUNCATE', 'TRUNCATE vcf.audit_log'),
               ('INSERT with a forged hash',
                $$INSERT INTO vcf.audit_log (action, succeeded, chain_no, prev_hash, hash)
                  VALUES ('forged', true, 1, decode(repeat('00', 32), 'hex'), sha256('forged'))$$),
               ('ALTER TABLE ... DISABLE TRIGGER',
                'ALTER TABLE vcf.audit_log DISABLE TRIGGER audit_log_no_update_delete'),
               ('ALTER TABLE ... ADD COLUMN', 'ALTER TABLE vcf.audit_log ADD COLUMN x integer'),
               ('DROP TABLE', 'DROP TABLE vcf.audit_log'),
               ('vcf._audit', $$SELECT vcf._audit('forged', NULL, true, '{}')$$)) AS s(label, sql);
SELECT is(pg_temp.sqlstate_as(r, 'SELECT count(*) FROM vcf.audit_log'), '42501',
          format('%s cannot read vcf.audit_log directly', r))
  FROM unnest(vcf._project_roles()) AS r;
SELECT is(pg_temp.sqlstate_as(r, 'ALTER TABLE vcf.audit_log DISABLE TRIGGER ALL'), '42501',
          format('%s cannot disable the triggers of vcf.audit_log', r))
  FROM unnest(vcf._project_roles()) AS r;
SELECT is(pg_temp.sqlstate_as('vcf_auditor', 'SELECT * FROM vcf.audit_verify()'), '00000',
          'vcf_auditor may run vcf.audit_verify');

-- ---------------------------------------------------------------- autonomous rows
SELECT is(pg_temp.sqlstate_as('vcf_analyst', format('SELECT vcf.reveal_sample(%s, %L)', :fake_sample, 'pgtap')),
          '42501', 'an analyst is refused a reveal');
SELECT cmp_ok((SELECT count(*)::integer FROM vcf.audit_log
                WHERE action = 'reveal' AND target = :'fake_sample' AND NOT succeeded
                  AND acting_role = 'vcf_analyst' AND details->>'refused' = 'not a member of vcf_phi_reader'
                  AND chain_no IS NOT NULL),
              '>=', 1,
              'the refused reveal left a chained row naming the acting role (autonomous: already committed)');
SELECT throws_ok(format('SELECT vcf.reveal_sample(%s, %L)', :fake_sample, '   '),
                 'VP073', format('a reason is required to reveal sample %s', :fake_sample),
                 'a reveal without a reason is refused (VP073)');
SELECT cmp_ok((SELECT count(*)::integer FROM vcf.audit_log
                WHERE action = 'reveal' AND target = :'fake_sample' AND NOT succeeded
                  AND details->>'refused' = 'no reason given'),
              '>=', 1, 'and leaves its audit row');
SELECT throws_ok(format('SELECT vcf.reveal_sample(%s, %L)', :fake_sample, 'pgtap'),
                 'VP071', NULL, 'a reveal of a sample that does not exist raises VP071');
SELECT is(pg_temp.sqlstate_as('vcf_loader', $$SELECT vcf.find_sample('PGTAP-NOBODY')$$),
          '42501', 'a loader is refused a lookup by name');
SELECT is((SELECT count(*)::integer FROM vcf.audit_log
            WHERE action = 'find' AND acting_role = 'vcf_loader' AND NOT succeeded
              AND strpos(details::text, 'PGTAP-NOBODY') > 0),
          0, 'the refused lookup''s audit row does not hold the name');
SELECT cmp_ok((SELECT count(*)::integer FROM vcf.audit_log
                WHERE action = 'find' AND acting_role = 'vcf_loader' AND NOT succeeded),
              '>=', 1, 'but it is there');
SELECT throws_ok(format('SELECT * FROM vcf.vcf_ingest(%L)', :'fake_session'),
                 'VP001', NULL, 'vcf_ingest of an unknown session fails');
SELECT results_eq(
    format($$SELECT succeeded, details->>'sqlstate', details->>'autonomous', chain_no IS NOT NULL
               FROM vcf.audit_log WHERE action = 'ingest' AND target = %L ORDER BY chain_no DESC LIMIT 1$$,
           :'fake_session'),
    $$VALUES (false, 'VP001'::text, 'true'::text, true)$$,
    'the failed ingest left a chained failure row, although its statement was rolled back');
SELECT throws_ok($$SELECT vcf.grant_role('pg_read_all_data', 'vcf_loader')$$,
                 '22023', NULL, 'grant_role refuses a role that is not a project role');
SELECT cmp_ok((SELECT count(*)::integer FROM vcf.audit_log
                WHERE action = 'grant' AND target = 'pg_read_all_data' AND NOT succeeded),
              '>=', 1, 'and audits the refusal');

-- ---------------------------------------------------------------- rows of this transaction
SELECT lives_ok($$SELECT vcf._audit('pgtap_audit', 'row-1', true, '{"n": 1}')$$, 'vcf._audit appends a row');
SELECT results_eq(
    $$SELECT chain_no IS NULL, prev_hash IS NULL, hash IS NULL, session_role = session_user,
             acting_role = current_user, backend_pid = pg_backend_pid(), xact_id = pg_current_xact_id()
        FROM vcf.audit_log WHERE action = 'pgtap_audit'$$,
    $$VALUES (true, true, true, true, true, true, true)$$,
    'the row is visible at once, unchained until commit, with this session''s context');
SELECT is((SELECT count(*)::integer FROM vcf.audit_seal_queue q JOIN vcf.audit_log a USING (audit_id)
            WHERE a.action = 'pgtap_audit'), 1, 'and queued for sealing');
SELECT throws_ok($$UPDATE vcf.audit_log SET details = '{"n": 2}' WHERE action = 'pgtap_audit'$$,
                 '42501', 'vcf.audit_log is append-only: UPDATE is not allowed',
                 'the owner cannot change an unchained row either');
SELECT throws_ok($$UPDATE vcf.audit_log SET chain_no = 1, prev_hash = decode(repeat('00', 32), 'hex'),
                          hash = sha256('x') WHERE action = 'pgtap_audit'$$,
                 '42501', NULL, 'nor seal it by hand');
SELECT throws_ok($$INSERT INTO vcf.audit_log (action, succeeded, chain_no, prev_hash, hash)
                   VALUES ('forged', true, 1000000, decode(repeat('00', 32), 'hex'), sha256('forged'))$$,
                 '42501', NULL, 'the owner cannot insert a row with a forged hash');
SELECT lives_ok('SELECT * FROM vcf.audit_verify()', 'audit_verify runs inside a writing transaction');
SELECT ok((SELECT ok FROM vcf.audit_verify()), 'the chain verifies; this transaction''s own unchained row does not count');

CREATE TEMPORARY TABLE head_before ON COMMIT DROP AS SELECT * FROM vcf.audit_head();
SET CONSTRAINTS vcf.audit_log_seal IMMEDIATE;
SELECT results_eq(
    $$SELECT a.chain_no = coalesce(h.chain_no, 0) + 1,
             a.prev_hash = coalesce(h.hash, decode(repeat('00', 32), 'hex')),
             a.hash = vcf._audit_hash(a)
        FROM vcf.audit_log a LEFT JOIN head_before h ON true WHERE a.action = 'pgtap_audit'$$,
    $$VALUES (true, true, true)$$,
    'sealed (SET CONSTRAINTS IMMEDIATE stands in for the commit): chain_no = head + 1, prev_hash = head hash, hash matches');
SELECT is((SELECT count(*)::integer FROM vcf.audit_seal_queue), 0, 'the seal queue is empty again');
SELECT ok(vcf._audit_chain_lock_held(), 'sealing took the chain lock, held until the transaction ends');
SELECT lives_ok($$SELECT vcf._audit('pgtap_audit', 'row-2', false, '{}')$$, 'a second row');
SELECT results_eq(
    $$SELECT b.chain_no = a.chain_no + 1, b.prev_hash = a.hash
        FROM vcf.audit_log a, vcf.audit_log b WHERE a.target = 'row-1' AND b.target = 'row-2'
         AND a.action = 'pgtap_audit' AND b.action = 'pgtap_audit'$$,
    $$VALUES (true, true)$$, 'links to the first');
SELECT throws_ok($$SELECT vcf._audit_autonomous('pgtap_audit', 'row-3', true)$$,
                 'VP070', NULL,
                 'a transaction holding the chain lock cannot write autonomously (it would wait for itself)');
SELECT throws_ok($$UPDATE vcf.audit_log SET succeeded = NOT succeeded WHERE action = 'pgtap_audit'$$,
                 '42501', 'vcf.audit_log is append-only: UPDATE is not allowed',
                 'a sealed row cannot be changed by its superuser owner');
SELECT throws_ok($$DELETE FROM vcf.audit_log WHERE action = 'pgtap_audit'$$,
                 '42501', 'vcf.audit_log is append-only: DELETE is not allowed', 'nor deleted');
SELECT throws_ok('TRUNCATE vcf.audit_log', '42501', 'vcf.audit_log is append-only: TRUNCATE is not allowed',
                 'nor truncated');
SELECT ok((SELECT ok FROM vcf.audit_verify()), 'the chain verifies');

-- ---------------------------------------------------------------- verification finds tampering
CREATE TEMPORARY TABLE verified ON COMMIT DROP AS
SELECT chain_no, audit_id, hash FROM vcf.audit_log WHERE action = 'pgtap_audit' AND target = 'row-1';
SELECT is((SELECT ok FROM vcf.audit_verify(v.chain_no, v.hash)), true, 'an anchor on the row verifies')
  FROM verified v;
SELECT is((SELECT problem FROM vcf.audit_verify(v.chain_no, sha256('other'))),
          format('the row at chain position %s differs from the anchor: the chain was rewritten', v.chain_no),
          'a different hash at the anchored position is reported')
  FROM verified v;
SELECT is((SELECT problem FROM vcf.audit_verify(v.chain_no + 1000000, v.hash)),
          format('the anchored chain position %s does not exist: the chain was truncated or rewritten',
                 v.chain_no + 1000000),
          'an anchored position that is gone is reported')
  FROM verified v;
SET LOCAL session_replication_role = replica;   -- a superuser turning the triggers off
UPDATE vcf.audit_log SET details = '{"n": 666}' WHERE action = 'pgtap_audit' AND target = 'row-1';
SELECT results_eq(
    'SELECT ok, bad_chain_no, bad_audit_id, problem FROM vcf.audit_verify()',
    format($$VALUES (false, %s::bigint, %s::bigint, 'the row does not match its hash: it was modified'::text)$$,
           v.chain_no, v.audit_id),
    'a superuser''s edit of one row''s details is reported, naming that row')
  FROM verified v;
UPDATE vcf.audit_log SET details = '{"n": 1}' WHERE action = 'pgtap_audit' AND target = 'row-1';
SELECT ok((SELECT ok FROM vcf.audit_verify()), 'restoring the row exactly restores the chain');
UPDATE vcf.audit_log SET succeeded = false WHERE action = 'pgtap_audit' AND target = 'row-1';
UPDATE vcf.audit_log a SET hash = vcf._audit_hash(a) WHERE action = 'pgtap_audit' AND target = 'row-1';
SELECT results_eq(
    'SELECT ok, bad_chain_no FROM vcf.audit_verify()',
    format($$VALUES (false, %s::bigint)$$, v.chain_no + 1),
    'an edit with the row''s own hash recomputed breaks the link to the next row, which is reported')
  FROM verified v;
UPDATE vcf.audit_log SET succeeded = true WHERE action = 'pgtap_audit' AND target = 'row-1';
UPDATE vcf.audit_log a SET hash = vcf._audit_hash(a) WHERE action = 'pgtap_audit' AND target = 'row-1';
SELECT ok((SELECT ok FROM vcf.audit_verify()), 'and putting it back restores it');
INSERT INTO vcf.audit_log (action, target, succeeded, xact_id) VALUES ('pgtap_audit', 'row-x', true, '1');
SELECT results_eq(
    'SELECT ok, bad_chain_no, bad_audit_id, problem FROM vcf.audit_verify()',
    $$SELECT false, NULL::bigint, audit_id,
             'the row was never chained: it was written with the sealing trigger disabled'::text
        FROM vcf.audit_log WHERE action = 'pgtap_audit' AND target = 'row-x'$$,
    'a row inserted with the triggers off is reported as never chained');
RESET session_replication_role;

-- ---------------------------------------------------------------- grant_role / revoke_role
-- (This transaction holds the chain lock by now, so the refusals below cannot
-- be audited autonomously: they say so in a WARNING, silenced here.)
SET LOCAL client_min_messages = error;
CREATE ROLE vcf_pgtap_user LOGIN;
SELECT lives_ok($$SELECT vcf.grant_role('vcf_analyst', 'vcf_pgtap_user')$$, 'grant_role grants a project role');
SELECT ok(pg_has_role('vcf_pgtap_user', 'vcf_analyst', 'MEMBER'), 'the user is a member');
SELECT is(pg_temp.audit_rows('grant', 'vcf_analyst') > 0
          AND EXISTS (SELECT 1 FROM vcf.audit_log WHERE action = 'grant' AND target = 'vcf_analyst'
                       AND details->>'member' = 'vcf_pgtap_user' AND succeeded),
          true, 'the grant is audited');
-- This transaction holds the chain lock (SET CONSTRAINTS ... IMMEDIATE above), so
-- these refusals cannot be audited autonomously: each is VP070, naming the refusal.
SELECT throws_like($$SELECT vcf.grant_role('vcf_analyst', 'vcf_loader')$$,
                   '%grant of vcf_analyst refused or failed (member is a project role)%',
                   'project roles are not granted to each other (VP070: not auditable here)');
SELECT throws_like($$SELECT vcf.grant_role('vcf_analyst', 'vcf_pgtap_no_such_user')$$,
                   '%grant of vcf_analyst refused or failed (no such member role)%',
                   'the member must exist (VP070: not auditable here)');
SELECT lives_ok($$SELECT vcf.revoke_role('vcf_analyst', 'vcf_pgtap_user')$$, 'revoke_role revokes');
SELECT ok(NOT pg_has_role('vcf_pgtap_user', 'vcf_analyst', 'MEMBER'), 'the user is no longer a member');
SELECT ok(EXISTS (SELECT 1 FROM vcf.audit_log WHERE action = 'revoke' AND target = 'vcf_analyst'
                   AND details->>'member' = 'vcf_pgtap_user' AND details->>'was_member' = 'true'),
          'the revoke is audited');

SELECT * FROM finish();
ROLLBACK;
