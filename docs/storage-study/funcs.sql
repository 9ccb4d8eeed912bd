-- Helpers for the dense-layout experiment (schema exp, throwaway cluster only).
CREATE SCHEMA IF NOT EXISTS exp;

-- one byte holding n (0..255)
CREATE OR REPLACE FUNCTION exp.b1(n integer) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT set_byte('\x00'::bytea, 0, n) $$;

-- LEB128 varint of an unsigned value below 2^35
CREATE OR REPLACE FUNCTION exp.varint(u bigint) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT CASE
 WHEN u < 128 THEN exp.b1(u::int)
 WHEN u < 16384 THEN exp.b1((u & 127)::int | 128) || exp.b1((u >> 7)::int)
 WHEN u < 2097152 THEN exp.b1((u & 127)::int | 128) || exp.b1(((u >> 7) & 127)::int | 128) || exp.b1((u >> 14)::int)
 WHEN u < 268435456 THEN exp.b1((u & 127)::int | 128) || exp.b1(((u >> 7) & 127)::int | 128) || exp.b1(((u >> 14) & 127)::int | 128) || exp.b1((u >> 21)::int)
 ELSE exp.b1((u & 127)::int | 128) || exp.b1(((u >> 7) & 127)::int | 128) || exp.b1(((u >> 14) & 127)::int | 128) || exp.b1(((u >> 21) & 127)::int | 128) || exp.b1((u >> 28)::int) END $$;

-- zigzag + 1 of a nullable int: NULL -> 0, 0 -> 1, -1 -> 2, 1 -> 3 ...
CREATE OR REPLACE FUNCTION exp.zz(v integer) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN v IS NULL THEN 0 WHEN v >= 0 THEN 2 * v::bigint + 1 ELSE -2 * v::bigint END $$;

-- A nullable int[] as varints: count+1 (0 = whole value NULL), then zz() of each element
CREATE OR REPLACE FUNCTION exp.vlist(a integer[]) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN a IS NULL THEN '\x00'::bytea
 ELSE exp.varint(cardinality(a) + 1) || coalesce((SELECT string_agg(exp.varint(exp.zz(e)), ''::bytea ORDER BY o)
                                                  FROM unnest(a) WITH ORDINALITY AS u(e, o)), ''::bytea) END $$;

-- allele code: 0 ref, 1 this ALT, 2 missing ('.'), 3 no allele (padding / no GT)
CREATE OR REPLACE FUNCTION exp.acode(gt smallint[], k integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN gt IS NULL OR k > cardinality(gt) THEN 3 WHEN gt[k] IS NULL THEN 2 ELSE gt[k] END $$;

-- GT, 1 byte per allele; bit 7 of the sample's first byte = phased
CREATE OR REPLACE FUNCTION exp.gt_bytes(gt smallint[], phased boolean, p integer) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT string_agg(exp.b1(exp.acode(gt, k) | CASE WHEN k = 1 AND phased THEN 128 ELSE 0 END), ''::bytea ORDER BY k)
  FROM generate_series(1, p) k $$;

-- GT, 1 byte per sample when ploidy <= 2: bits 0-1 allele 1, bits 2-3 allele 2, bit 4 phased
CREATE OR REPLACE FUNCTION exp.gt_nib(gt smallint[], phased boolean) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT exp.b1(exp.acode(gt, 1) | (exp.acode(gt, 2) << 2) | CASE WHEN phased THEN 16 ELSE 0 END) $$;

-- Fixed width per row for GQ / DP: width byte (1, 2 or 4) then S values; NULL = 255 / -32768 / -2^31
CREATE OR REPLACE FUNCTION exp.fw(v integer, w integer) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE w WHEN 1 THEN exp.b1(coalesce(v, 255))
              WHEN 2 THEN substr(int4send(coalesce(v, -32768)), 3, 2)
              ELSE int4send(coalesce(v, -2147483648)) END $$;
CREATE OR REPLACE FUNCTION exp.fw_width(lo integer, hi integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN lo >= 0 AND hi <= 254 THEN 1 WHEN lo > -32768 AND hi <= 32767 THEN 2 ELSE 4 END $$;
-- read sample i (1-based) of a fixed-width column
CREATE OR REPLACE FUNCTION exp.fw_get(b bytea, i integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE get_byte(b, 0)
 WHEN 1 THEN nullif(get_byte(b, i), 255)
 WHEN 2 THEN nullif(((get_byte(b, 1 + 2*(i-1)) << 8 | get_byte(b, 2 + 2*(i-1))) # 32768) - 32768, -32768)
 ELSE nullif(((get_byte(b, 1 + 4*(i-1))::bigint << 24) | (get_byte(b, 2 + 4*(i-1)) << 16) | (get_byte(b, 3 + 4*(i-1)) << 8) | get_byte(b, 4 + 4*(i-1)))::bit(32)::integer, -2147483648) END $$;

-- PG15 has no STORAGE in CREATE TABLE: set every varlena column of a table to STORAGE MAIN + compression
CREATE OR REPLACE PROCEDURE exp.mainify(tbl regclass, comp text) LANGUAGE plpgsql AS $$
DECLARE col text;
BEGIN
  FOR col IN SELECT a.attname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
              WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped AND t.typlen = -1 LOOP
    EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET STORAGE MAIN, ALTER COLUMN %I SET COMPRESSION %s', tbl, col, col, comp);
  END LOOP;
END $$;

-- An uncompressed copy of a value, so that the target column's compression method applies
-- (INSERT ... SELECT keeps an already-compressed datum as it is).
CREATE OR REPLACE FUNCTION exp.fresh(x bytea) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$ SELECT substr(x, 1) $$;
CREATE OR REPLACE FUNCTION exp.fresh(x text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT substr(x, 1) $$;
CREATE OR REPLACE FUNCTION exp.fresh(x jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$ SELECT CASE jsonb_typeof(x) WHEN 'array' THEN x || '[]'::jsonb ELSE x || '{}'::jsonb END $$;
CREATE OR REPLACE FUNCTION exp.fresh(x anyarray) RETURNS anyarray LANGUAGE sql IMMUTABLE AS $$ SELECT array_cat(x, NULL) $$;

-- decode one gt_n byte (ploidy <= 2) back to the calls.gt form
CREATE OR REPLACE FUNCTION exp.gt_decode(b integer) RETURNS smallint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN b & 3 = 3 THEN NULL
 ELSE (ARRAY[nullif(b & 3, 2)] || CASE WHEN (b >> 2) & 3 = 3 THEN '{}'::integer[] ELSE ARRAY[nullif((b >> 2) & 3, 2)] END)::smallint[] END $$;
