-- Cryptographic building blocks of vcf_pg_loader:
--   * vcf._a256cbc_hs512_encrypt reproduces RFC 7518 Appendix B.3 exactly, and
--     vcf._a256cbc_hs512_decrypt round-trips it and returns NULL (never garbage,
--     never an error) for any modified, truncated or misdirected input;
--   * vcf._seal / vcf._open (stored format version 1) round-trip, are bound to
--     their context, key, key id and version byte, and open a blob written by
--     the Python control plane (vcf_pg_loader.crypto.seal);
--   * vcf._blob_key_id, vcf._key_check and vcf._blind_index, including values
--     pinned against the control plane's Python implementation.
-- Keys here are fixed test patterns, never real key material.
BEGIN;
SELECT plan(46);

-- RFC 7518 Appendix B.3 (AES_256_CBC_HMAC_SHA_512).
\set rfc_k '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f'
\set rfc_iv '1af38c2dc2b96ffdd86694092341bc04'
\set rfc_p 'A cipher system must not be required to be secret, and it must be able to fall into the hands of the enemy without inconvenience'
\set rfc_a 'The second principle of Auguste Kerckhoffs'
\set rfc_e '4affaaadb78c31c5da4b1b590d10ffbd3dd8d5d302423526912da037ecbcc7bd822c301dd67c373bccb584ad3e9279c2e6d12a1374b77f077553df829410446b36ebd97066296ae6427ea75c2e0846a11a09ccf5370dc80bfecbad28c73f09b3a3b75e662a2594410ae496b2e2e6609e31e6e02cc837f053d21f37ff4f51950bbe2638d09dd7a4930930806d0703b1f6'
\set rfc_t '4dd3b4c088a7f45c216839645b2012bf2e6269a8c56a816dbc1b267761955bc5'
-- A second fixed 64-byte test key (bytes 40..7f) and a key id for it.
\set k2 '404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f'
\set k2_id '00000000-0000-4000-8000-0000000000c1'
\set k1_id '00000000-0000-4000-8000-0000000000c0'

CREATE TEMPORARY TABLE rfc ON COMMIT DROP AS
SELECT decode(:'rfc_k', 'hex') AS k,
       decode(:'rfc_iv', 'hex') AS iv,
       convert_to(:'rfc_p', 'UTF8') AS p,
       convert_to(:'rfc_a', 'UTF8') AS a,
       decode(:'rfc_e' || :'rfc_t', 'hex') AS et;

-- ---------------------------------------------------------------- A256CBC-HS512
SELECT is(encode(vcf._a256cbc_hs512_encrypt(k, iv, p, a), 'hex'), :'rfc_e' || :'rfc_t',
          'encrypt reproduces RFC 7518 B.3 E || T exactly')
  FROM rfc;
SELECT is(vcf._a256cbc_hs512_decrypt(k, iv, et, a), p,
          'decrypt of the RFC 7518 B.3 vector gives the plaintext back')
  FROM rfc;
SELECT is(vcf._a256cbc_hs512_decrypt(k, iv, vcf._a256cbc_hs512_encrypt(k, iv, ''::bytea, a), a),
          ''::bytea, 'empty plaintext round-trips (one padding block, 48 bytes E || T)')
  FROM rfc;
SELECT is(length(vcf._a256cbc_hs512_encrypt(k, iv, ''::bytea, a)), 48,
          'empty plaintext encrypts to one AES block plus a 32-byte tag')
  FROM rfc;
SELECT is(vcf._a256cbc_hs512_decrypt(k, iv, set_byte(et, 0, get_byte(et, 0) # 1), a), NULL,
          'decrypt: first ciphertext byte flipped gives NULL')
  FROM rfc;
SELECT is(vcf._a256cbc_hs512_decrypt(k, iv, set_byte(et, 143, get_byte(et, 143) # 128), a), NULL,
          'decrypt: last ciphertext byte (padding block) flipped gives NULL')
  FROM rfc;
SELECT is(vcf._a256cbc_hs512_decrypt(k, iv, set_byte(et, 144, get_byte(et, 144) # 1), a), NULL,
          'decrypt: first tag byte flipped gives NULL')
  FROM rfc;
SELECT is(vcf._a256cbc_hs512_decrypt(k, iv, set_byte(et, 175, get_byte(et, 175) # 1), a), NULL,
          'decrypt: last tag byte flipped gives NULL')
  FROM rfc;
SELECT is(vcf._a256cbc_hs512_decrypt(k, set_byte(iv, 0, get_byte(iv, 0) # 1), et, a), NULL,
          'decrypt: IV flipped gives NULL')
  FROM rfc;
SELECT is(vcf._a256cbc_hs512_decrypt(k, iv, et, convert_to('The second principle of Auguste Kerckhoffz', 'UTF8')),
          NULL, 'decrypt: different associated data gives NULL')
  FROM rfc;
SELECT is(vcf._a256cbc_hs512_decrypt(k, iv, et, ''::bytea), NULL,
          'decrypt: empty instead of the real associated data gives NULL')
  FROM rfc;
SELECT is(vcf._a256cbc_hs512_decrypt(decode(:'k2', 'hex'), iv, et, a), NULL,
          'decrypt: another key gives NULL')
  FROM rfc;
SELECT is(vcf._a256cbc_hs512_decrypt(k, iv, substr(et, 1, length(et) - 1), a), NULL,
          'decrypt: input cut by one byte gives NULL')
  FROM rfc;
SELECT is(vcf._a256cbc_hs512_decrypt(k, iv, substr(et, 1, 128) || substr(et, 145), a), NULL,
          'decrypt: last ciphertext block dropped (still block-aligned) gives NULL')
  FROM rfc;
SELECT is(vcf._a256cbc_hs512_decrypt(k, iv, substr(et, 1, 47), a), NULL,
          'decrypt: input shorter than one block plus tag gives NULL')
  FROM rfc;
SELECT is(vcf._a256cbc_hs512_decrypt(substr(k, 1, 32), iv, et, a), NULL,
          'decrypt: a 32-byte key gives NULL, not an error')
  FROM rfc;
SELECT throws_ok(format('SELECT vcf._a256cbc_hs512_encrypt(%L::bytea, %L::bytea, %L::bytea, %L::bytea)',
                        substr(k, 1, 32), iv, p, a),
                 '22023', NULL, 'encrypt refuses a 32-byte key (22023)')
  FROM rfc;
SELECT throws_ok(format('SELECT vcf._a256cbc_hs512_encrypt(%L::bytea, %L::bytea, %L::bytea, %L::bytea)',
                        k, substr(iv, 1, 15), p, a),
                 '22023', NULL, 'encrypt refuses a 15-byte IV (22023)')
  FROM rfc;

-- ---------------------------------------------------------------- _seal / _open
CREATE TEMPORARY TABLE sealed ON COMMIT DROP AS
SELECT k, :'k1_id'::uuid AS key_id, p,
       vcf._seal(k, :'k1_id'::uuid, p, 'vcf.tests.crypto:1') AS blob
  FROM rfc;

SELECT is(vcf._open(k, blob, 'vcf.tests.crypto:1'), p, '_seal then _open round-trips')
  FROM sealed;
SELECT is(get_byte(blob, 0), 1, '_seal writes format version 1 in the first byte')
  FROM sealed;
SELECT is(length(blob), 1 + 16 + 16 + (length(p) / 16 + 1) * 16 + 32,
          '_seal blob is version || key id || IV || padded ciphertext || 32-byte tag')
  FROM sealed;
SELECT is(vcf._a256cbc_hs512_decrypt(k, substr(blob, 18, 16), substr(blob, 34),
                                     substr(blob, 1, 17) || convert_to('vcf.tests.crypto:1', 'UTF8')),
          p, '_seal blob opens with the raw primitive: AAD is version || key id || context')
  FROM sealed;
SELECT isnt(vcf._seal(k, key_id, p, 'vcf.tests.crypto:1'), blob,
            '_seal uses a fresh random IV (same input, different blob)')
  FROM sealed;
SELECT is(vcf._open(k, vcf._seal(k, key_id, ''::bytea, 'vcf.tests.crypto:empty'), 'vcf.tests.crypto:empty'),
          ''::bytea, '_seal / _open round-trip an empty plaintext')
  FROM sealed;
SELECT is(vcf._open(k, blob, 'vcf.tests.crypto:2'), NULL, '_open for another context gives NULL')
  FROM sealed;
SELECT is(vcf._open(decode(:'k2', 'hex'), blob, 'vcf.tests.crypto:1'), NULL,
          '_open under another key gives NULL')
  FROM sealed;
SELECT is(vcf._open(k, set_byte(blob, 0, 2), 'vcf.tests.crypto:1'), NULL,
          '_open of a blob whose version byte is flipped to 2 gives NULL')
  FROM sealed;
SELECT is(vcf._open(k, set_byte(blob, 5, get_byte(blob, 5) # 1), 'vcf.tests.crypto:1'), NULL,
          '_open of a blob whose key id is altered gives NULL (key id is authenticated)')
  FROM sealed;
SELECT is(vcf._open(k, set_byte(blob, 20, get_byte(blob, 20) # 1), 'vcf.tests.crypto:1'), NULL,
          '_open of a blob whose IV is altered gives NULL')
  FROM sealed;
SELECT is(vcf._open(k, set_byte(blob, 40, get_byte(blob, 40) # 1), 'vcf.tests.crypto:1'), NULL,
          '_open of a blob whose ciphertext is altered gives NULL')
  FROM sealed;
SELECT is(vcf._open(k, substr(blob, 1, length(blob) - 16), 'vcf.tests.crypto:1'), NULL,
          '_open of a blob cut by 16 bytes gives NULL')
  FROM sealed;
SELECT is(vcf._open(k, substr(blob, 1, 80), 'vcf.tests.crypto:1'), NULL,
          '_open of a blob shorter than the minimum (81 bytes) gives NULL')
  FROM sealed;
SELECT is(vcf._open(decode(:'k2', 'hex'),
                    decode('01000000000000400080000000000000c17f361e650523977d9e56ca25841625db9012fa785d19'
                           '367354693550bb55c0e8043e2f4087a386539251c3d8ecd414a6918d399adb04fe2288530e44f8'
                           '6adbb7cce630d136654198d602c835437ec61d', 'hex'),
                    'vcf.tests.interop:1'),
          convert_to('fake sample NA00001', 'UTF8'),
          '_open reads a blob sealed by the Python control plane (vcf_pg_loader.crypto.seal)');

-- ---------------------------------------------------------------- _blob_key_id
SELECT is(vcf._blob_key_id(blob), key_id, '_blob_key_id returns the key id a blob names')
  FROM sealed;
SELECT is(vcf._blob_key_id(vcf._seal(decode(:'k2', 'hex'), :'k2_id'::uuid, '\x00'::bytea, 'x')),
          :'k2_id'::uuid, '_blob_key_id returns the id of another key for its blob');
SELECT is(vcf._blob_key_id('\x0100'::bytea), NULL, '_blob_key_id of a too-short blob is NULL');

-- ---------------------------------------------------------------- _key_check
SELECT is(length(vcf._key_check(decode(:'rfc_k', 'hex'))), 16, '_key_check is 16 bytes');
SELECT isnt(vcf._key_check(decode(:'rfc_k', 'hex')), vcf._key_check(decode(:'k2', 'hex')),
            '_key_check differs between keys');
SELECT is(vcf._key_check(decode(:'rfc_k', 'hex')), vcf._key_check(decode(:'rfc_k', 'hex')),
          '_key_check is deterministic');
SELECT is(encode(vcf._key_check(decode(:'k2', 'hex')), 'hex'), 'b27e4e5cecabdc75c5833edb22688df1',
          '_key_check equals the control plane''s key_check_value (pinned)');

-- ---------------------------------------------------------------- _blind_index
SELECT is(length(vcf._blind_index(decode(:'rfc_k', 'hex'), 'NA00001')), 32, '_blind_index is 32 bytes');
SELECT is(vcf._blind_index(decode(:'rfc_k', 'hex'), 'NA00001'),
          vcf._blind_index(decode(:'rfc_k', 'hex'), 'NA00001'),
          '_blind_index is deterministic');
SELECT isnt(vcf._blind_index(decode(:'rfc_k', 'hex'), 'NA00001'),
            vcf._blind_index(decode(:'rfc_k', 'hex'), 'NA00002'),
            '_blind_index differs by name');
SELECT isnt(vcf._blind_index(decode(:'rfc_k', 'hex'), 'NA00001'),
            vcf._blind_index(decode(:'k2', 'hex'), 'NA00001'),
            '_blind_index differs by key');
SELECT is(encode(vcf._blind_index(decode(:'rfc_k', 'hex'), 'NA00001'), 'hex'),
          '4c1548a44b94a243c4fb414f4f1b5cd1a96c3fa1f2ccd449c57f9a86b97de811',
          '_blind_index is HMAC-SHA-256 under HMAC(key, "vcf-pg-loader blind index v1") (pinned)');
SELECT isnt(vcf._blind_index(decode(:'rfc_k', 'hex'), 'NA00001'),
            vcf._pgcrypto_hmac(convert_to('NA00001', 'UTF8'), decode(:'rfc_k', 'hex'), 'sha256'),
            '_blind_index does not use the PHI key directly as the HMAC key');

SELECT * FROM finish();
ROLLBACK;
