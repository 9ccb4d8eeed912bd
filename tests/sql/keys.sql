-- Data keys: vcf.key_register, vcf.unlock, vcf._unlocked_key, vcf._destroy_key.
--   * registering stores the wrapped form and audits it;
--   * unlock with the right key makes it usable (vcf._unlocked_key) in this
--     transaction, for that key only;
--   * a wrong, short or NULL key raises VP003 without the key's hex in the
--     message, detail or hint; an unknown or destroyed key raises VP002;
--     a key that was not unlocked raises VP004;
--   * only one active PHI key: key_register raises VP005, and the unique index
--     refuses a direct second insert.
-- The test cluster already has an active PHI key (made by the embedded cluster
-- bootstrap); unlock tests use staging keys registered here, and VP005 is
-- tested by registering a second PHI key. Keys are
-- sha512 of fixed labels: test patterns, not key material.
BEGIN;
SELECT plan(28);

\set st_id '00000000-0000-4000-8000-00000000a001'
\set other_id '00000000-0000-4000-8000-00000000a002'
\set doomed_id '00000000-0000-4000-8000-00000000a003'
\set unknown_id '00000000-0000-4000-8000-00000000a0ff'
\set phi1_id '00000000-0000-4000-8000-00000000a005'
\set phi2_id '00000000-0000-4000-8000-00000000a004'

CREATE TEMPORARY TABLE k ON COMMIT DROP AS
SELECT sha512(convert_to('vcf-pg-loader pgTAP keys: staging', 'UTF8')) AS st,
       sha512(convert_to('vcf-pg-loader pgTAP keys: other', 'UTF8')) AS other,
       sha512(convert_to('vcf-pg-loader pgTAP keys: wrong', 'UTF8')) AS wrong,
       sha512(convert_to('vcf-pg-loader pgTAP keys: doomed', 'UTF8')) AS doomed,
       sha512(convert_to('vcf-pg-loader pgTAP keys: phi1', 'UTF8')) AS phi1,
       sha512(convert_to('vcf-pg-loader pgTAP keys: phi2', 'UTF8')) AS phi2;

-- The error a statement raises, as "SQLSTATE|message|detail|hint" (no context:
-- that would echo the statement text this test builds).
CREATE FUNCTION pg_temp.error_of(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_state text; v_msg text; v_detail text; v_hint text;
BEGIN
    EXECUTE p_sql;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
                            v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;
    RETURN concat_ws('|', v_state, v_msg, v_detail, v_hint);
END
$$;

-- The embedded cluster's bootstrap made a PHI key; make one here if it is gone.
SELECT isnt(coalesce(vcf.active_phi_key_id(),
                     vcf.key_register(:'phi1_id', 'phi', 'local', 'test-kek', '\x0badc0de'::bytea, '{}',
                                      vcf._key_check(phi1))),
            NULL, 'precondition: there is an active PHI key')
  FROM k;

-- ---------------------------------------------------------------- key_register
SELECT is(vcf.key_register(:'st_id', 'staging', 'local', 'test-kek', '\x0badc0de'::bytea,
                           '{"test": "keys"}', vcf._key_check(st)),
          :'st_id'::uuid, 'key_register returns the key id')
  FROM k;
SELECT results_eq(
    format($$SELECT purpose, provider, kek_id, wrapped_key, state, key_check
               FROM vcf.data_keys WHERE key_id = %L$$, :'st_id'),
    format($$VALUES ('staging'::text, 'local'::text, 'test-kek'::text, '\x0badc0de'::bytea,
                     'active'::text, %L::bytea)$$, vcf._key_check(st)),
    'key_register stores the wrapped key and key check, active')
  FROM k;
SELECT is((SELECT count(*)::integer FROM vcf.audit_log
            WHERE action = 'key_register' AND target = :'st_id' AND succeeded),
          1, 'key_register writes one audit row naming the key id');
SELECT lives_ok(format('SELECT vcf.key_register(%L, %L, %L, %L, %L::bytea, %L, %L::bytea)',
                       :'other_id', 'staging', 'local', 'test-kek', '\x0badc0de', '{}', vcf._key_check(other)),
                'key_register accepts a second staging key')
  FROM k;

-- ---------------------------------------------------------------- unlock
SELECT throws_ok(format('SELECT vcf._unlocked_key(%L)', :'st_id'),
                 'VP004', format('data key %s is not unlocked in this transaction', :'st_id'),
                 '_unlocked_key of a registered key that was not unlocked raises VP004');
SELECT lives_ok(format('SELECT vcf.unlock(%L, %L::bytea)', :'st_id', st),
                'unlock with the right key succeeds')
  FROM k;
SELECT is(vcf._unlocked_key(:'st_id'), st, '_unlocked_key returns the unlocked key in the same transaction')
  FROM k;
SELECT throws_ok(format('SELECT vcf._unlocked_key(%L)', :'other_id'),
                 'VP004', NULL, 'unlocking one key does not unlock another');
SELECT is((SELECT count(*)::integer FROM vcf.audit_log
            WHERE action = 'unlock' AND target = :'st_id' AND succeeded
              AND details->>'purpose' = 'staging'),
          1, 'unlock writes an audit row naming key id and purpose');
SELECT is((SELECT count(*)::integer FROM vcf.audit_log a, k
            WHERE strpos(a::text, encode(k.st, 'hex')) > 0
               OR strpos(a::text, encode(k.other, 'hex')) > 0),
          0, 'no audit row contains key material');

SELECT throws_ok(format('SELECT vcf.unlock(%L, %L::bytea)', :'other_id', wrong),
                 'VP003', format('wrong key material for data key %s', :'other_id'),
                 'unlock with a wrong key raises VP003')
  FROM k;
SELECT is(strpos(pg_temp.error_of(format('SELECT vcf.unlock(%L, %L::bytea)', :'other_id', wrong)),
                 encode(wrong, 'hex')),
          0, 'the VP003 message, detail and hint do not contain the wrong key''s hex')
  FROM k;
SELECT matches(pg_temp.error_of(format('SELECT vcf.unlock(%L, %L::bytea)', :'other_id', wrong)),
               '^VP003\|', 'error_of sees the VP003 (the check above is not vacuous)')
  FROM k;
SELECT throws_ok(format('SELECT vcf.unlock(%L, %L::bytea)', :'other_id', st),
                 'VP003', NULL, 'unlock with another registered key''s material raises VP003')
  FROM k;
SELECT throws_ok(format('SELECT vcf.unlock(%L, %L::bytea)', :'other_id', substr(other, 1, 32)),
                 'VP003', NULL, 'unlock with the first 32 bytes of the right key raises VP003')
  FROM k;
SELECT throws_ok(format('SELECT vcf.unlock(%L, NULL::bytea)', :'other_id'),
                 'VP003', NULL, 'unlock with a NULL key raises VP003');
SELECT throws_ok(format('SELECT vcf.unlock(%L, %L::bytea)', :'unknown_id', other),
                 'VP002', format('data key %s does not exist or has been destroyed', :'unknown_id'),
                 'unlock of an unknown key id raises VP002')
  FROM k;

-- ---------------------------------------------------------------- destroy
-- Setup statements end in \gset so that their results stay out of the TAP stream.
SELECT vcf.key_register(:'doomed_id', 'staging', 'local', 'test-kek', '\x0badc0de'::bytea, '{}',
                        vcf._key_check(doomed)) AS doomed_registered FROM k \gset
SELECT vcf.unlock(:'doomed_id', doomed) AS doomed_unlocked FROM k \gset
SELECT is(vcf._unlocked_key(:'doomed_id'), doomed, 'a second key can be unlocked alongside the first')
  FROM k;
SELECT vcf._destroy_key(:'doomed_id') AS doomed_destroyed \gset
SELECT results_eq(
    format('SELECT state, wrapped_key IS NULL, destroyed_at IS NOT NULL FROM vcf.data_keys WHERE key_id = %L',
           :'doomed_id'),
    $$VALUES ('destroyed'::text, true, true)$$,
    '_destroy_key erases the wrapped key and marks the key destroyed');
SELECT throws_ok(format('SELECT vcf._unlocked_key(%L)', :'doomed_id'),
                 'VP004', NULL, '_destroy_key forgets the unlocked key at once');
SELECT throws_ok(format('SELECT vcf.unlock(%L, %L::bytea)', :'doomed_id', doomed),
                 'VP002', NULL, 'unlock of a destroyed key raises VP002 even with the right key')
  FROM k;
SELECT is(vcf._unlocked_key(:'st_id'), st, 'destroying one key leaves other unlocked keys usable')
  FROM k;

-- ---------------------------------------------------------------- one active PHI key
SELECT throws_ok(format('SELECT vcf.key_register(%L, %L, %L, %L, %L::bytea, %L, %L::bytea)',
                        :'phi2_id', 'phi', 'local', 'test-kek', '\x0badc0de', '{}', vcf._key_check(phi2)),
                 'VP005', 'a PHI key is already active',
                 'key_register refuses a second active PHI key (VP005)')
  FROM k;
SELECT is((SELECT count(*)::integer FROM vcf.data_keys WHERE key_id = :'phi2_id'), 0,
          'the refused PHI key was not stored');
SELECT throws_ok(format($$INSERT INTO vcf.data_keys (key_id, purpose, provider, kek_id, wrapped_key, key_check)
                          VALUES (%L, 'phi', 'local', 'test-kek', '\x0badc0de', %L::bytea)$$,
                        :'phi2_id', vcf._key_check(phi2)),
                 '23505', NULL, 'the unique index refuses a second active PHI key inserted directly')
  FROM k;
UPDATE vcf.data_keys SET state = 'retired', retired_at = clock_timestamp()
 WHERE purpose = 'phi' AND state = 'active';
SELECT lives_ok(format('SELECT vcf.key_register(%L, %L, %L, %L, %L::bytea, %L, %L::bytea)',
                       :'phi2_id', 'phi', 'local', 'test-kek', '\x0badc0de', '{}', vcf._key_check(phi2)),
                'once the active PHI key is retired, a new PHI key can be registered')
  FROM k;
SELECT is(vcf.active_phi_key_id(), :'phi2_id'::uuid, 'active_phi_key_id names the new PHI key');

SELECT * FROM finish();
ROLLBACK;
