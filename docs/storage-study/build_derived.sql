\set ON_ERROR_STOP 1
\timing on
SET jit=off;
SET work_mem='256MB';
-- ---------- (a) arrays in a separate table ----------
DROP TABLE IF EXISTS exp.__DS___a, exp.__DS___a_lz4;
CREATE TABLE exp.__DS___a (
    session_id uuid NOT NULL, record_no bigint NOT NULL, alt_no smallint NOT NULL,
    gt smallint[], phased boolean[], gq integer[], dp integer[], ad integer[], pl integer[], fmt jsonb,
    PRIMARY KEY (session_id, record_no, alt_no));
INSERT INTO exp.__DS___a SELECT session_id, record_no, alt_no, exp.fresh(gt2d), exp.fresh(phased_a), exp.fresh(gq_a), exp.fresh(dp_a), exp.fresh(ad2d), exp.fresh(pl2d), exp.fresh(fmt_a)
  FROM exp.__DS___agg ORDER BY 1, 2, 3;
-- (a') the same, lz4 + storage MAIN + toast_tuple_target 128
CREATE TABLE exp.__DS___a_lz4 (
    session_id uuid NOT NULL, record_no bigint NOT NULL, alt_no smallint NOT NULL,
    gt smallint[] COMPRESSION lz4, phased boolean[] COMPRESSION lz4,
    gq integer[] COMPRESSION lz4, dp integer[] COMPRESSION lz4,
    ad integer[] COMPRESSION lz4, pl integer[] COMPRESSION lz4,
    fmt jsonb COMPRESSION lz4,
    PRIMARY KEY (session_id, record_no, alt_no)) WITH (toast_tuple_target = 128);

CALL exp.mainify('exp.__DS___a_lz4', 'lz4');
INSERT INTO exp.__DS___a_lz4 SELECT session_id, record_no, alt_no, exp.fresh(gt), exp.fresh(phased), exp.fresh(gq), exp.fresh(dp), exp.fresh(ad), exp.fresh(pl), exp.fresh(fmt) FROM exp.__DS___a ORDER BY 1, 2, 3;

-- ---------- (b) arrays as columns of records ----------
DROP TABLE IF EXISTS exp.__DS___b;
CREATE TABLE exp.__DS___b (LIKE exp.__DS___records INCLUDING ALL);
ALTER TABLE exp.__DS___b ADD COLUMN gt smallint[], ADD COLUMN phased boolean[], ADD COLUMN gq integer[],
  ADD COLUMN dp integer[], ADD COLUMN ad integer[], ADD COLUMN pl integer[], ADD COLUMN fmt jsonb;
INSERT INTO exp.__DS___b SELECT r.*, exp.fresh(a.gt2d), exp.fresh(a.phased_a), exp.fresh(a.gq_a), exp.fresh(a.dp_a), exp.fresh(a.ad2d), exp.fresh(a.pl2d), exp.fresh(a.fmt_a)
  FROM exp.__DS___records r LEFT JOIN exp.__DS___agg a USING (session_id, record_no, alt_no) ORDER BY 1, 2, 3;

-- records baseline with compression settings (for the deltas of the records-embedded variants)
DROP TABLE IF EXISTS exp.__DS___records_lz4, exp.__DS___lines_lz4, exp.__DS___lines_pglz;
CREATE TABLE exp.__DS___records_lz4 (LIKE exp.__DS___records INCLUDING ALL) WITH (toast_tuple_target = 128);

CALL exp.mainify('exp.__DS___records_lz4', 'lz4');
INSERT INTO exp.__DS___records_lz4 SELECT session_id, record_no, alt_no, variant_id, exp.fresh(id), qual, exp.fresh(filter), exp.fresh(info), exp.fresh(alts) FROM exp.__DS___records ORDER BY 1, 2, 3;
CREATE TABLE exp.__DS___lines_lz4 (LIKE exp.__DS___lines INCLUDING ALL) WITH (toast_tuple_target = 128);

CALL exp.mainify('exp.__DS___lines_lz4', 'lz4');
INSERT INTO exp.__DS___lines_lz4 SELECT session_id, record_no, line_no, exp.fresh(line) FROM exp.__DS___lines ORDER BY 1, 2;
CREATE TABLE exp.__DS___lines_pglz (LIKE exp.__DS___lines INCLUDING ALL) WITH (toast_tuple_target = 128);

CALL exp.mainify('exp.__DS___lines_pglz', 'pglz');
INSERT INTO exp.__DS___lines_pglz SELECT session_id, record_no, line_no, exp.fresh(line) FROM exp.__DS___lines ORDER BY 1, 2;

-- ---------- (c) compact encodings, separate table ----------
DROP TABLE IF EXISTS exp.__DS___c1, exp.__DS___c2, exp.__DS___c2_lz4, exp.__DS___c2_pglz, exp.__DS___c2_lz4x;
-- c1: gt bytea 1 byte/allele (+phase bit), gq/dp int2[], ad/pl 2-D int[]
CREATE TABLE exp.__DS___c1 (
    session_id uuid NOT NULL, record_no bigint NOT NULL, alt_no smallint NOT NULL,
    gt bytea, gq smallint[], dp smallint[], ad integer[], pl integer[], fmt jsonb,
    PRIMARY KEY (session_id, record_no, alt_no));
INSERT INTO exp.__DS___c1 SELECT session_id, record_no, alt_no, exp.fresh(gt_b), exp.fresh(gq_i2), exp.fresh(dp_i2), exp.fresh(ad2d), exp.fresh(pl2d), exp.fresh(fmt_a)
  FROM exp.__DS___agg ORDER BY 1, 2, 3;
-- c2: gt bytea 1 byte/sample (ploidy <= 2), gq/dp fixed width per row, ad/pl varint lists
CREATE TABLE exp.__DS___c2 (
    session_id uuid NOT NULL, record_no bigint NOT NULL, alt_no smallint NOT NULL,
    gt bytea, gq bytea, dp bytea, ad bytea, pl bytea, fmt jsonb,
    PRIMARY KEY (session_id, record_no, alt_no));
INSERT INTO exp.__DS___c2 SELECT session_id, record_no, alt_no, exp.fresh(gt_n), exp.fresh(gq_fw), exp.fresh(dp_fw), exp.fresh(ad_v), exp.fresh(pl_v), exp.fresh(fmt_a)
  FROM exp.__DS___agg ORDER BY 1, 2, 3;
CREATE TABLE exp.__DS___c2_lz4 (
    session_id uuid NOT NULL, record_no bigint NOT NULL, alt_no smallint NOT NULL,
    gt bytea COMPRESSION lz4, gq bytea COMPRESSION lz4, dp bytea COMPRESSION lz4,
    ad bytea COMPRESSION lz4, pl bytea COMPRESSION lz4, fmt jsonb COMPRESSION lz4,
    PRIMARY KEY (session_id, record_no, alt_no)) WITH (toast_tuple_target = 128);

CALL exp.mainify('exp.__DS___c2_lz4', 'lz4');
INSERT INTO exp.__DS___c2_lz4 SELECT session_id, record_no, alt_no, exp.fresh(gt), exp.fresh(gq), exp.fresh(dp), exp.fresh(ad), exp.fresh(pl), exp.fresh(fmt) FROM exp.__DS___c2 ORDER BY 1, 2, 3;
CREATE TABLE exp.__DS___c2_pglz (
    session_id uuid NOT NULL, record_no bigint NOT NULL, alt_no smallint NOT NULL,
    gt bytea COMPRESSION pglz, gq bytea COMPRESSION pglz, dp bytea COMPRESSION pglz,
    ad bytea COMPRESSION pglz, pl bytea COMPRESSION pglz, fmt jsonb COMPRESSION pglz,
    PRIMARY KEY (session_id, record_no, alt_no)) WITH (toast_tuple_target = 128);

CALL exp.mainify('exp.__DS___c2_pglz', 'pglz');
INSERT INTO exp.__DS___c2_pglz SELECT session_id, record_no, alt_no, exp.fresh(gt), exp.fresh(gq), exp.fresh(dp), exp.fresh(ad), exp.fresh(pl), exp.fresh(fmt) FROM exp.__DS___c2 ORDER BY 1, 2, 3;
-- same as c2_lz4 but default storage EXTENDED: low toast_tuple_target pushes values out of line
CREATE TABLE exp.__DS___c2_lz4x (
    session_id uuid NOT NULL, record_no bigint NOT NULL, alt_no smallint NOT NULL,
    gt bytea COMPRESSION lz4, gq bytea COMPRESSION lz4, dp bytea COMPRESSION lz4,
    ad bytea COMPRESSION lz4, pl bytea COMPRESSION lz4, fmt jsonb COMPRESSION lz4,
    PRIMARY KEY (session_id, record_no, alt_no)) WITH (toast_tuple_target = 128);
INSERT INTO exp.__DS___c2_lz4x SELECT session_id, record_no, alt_no, exp.fresh(gt), exp.fresh(gq), exp.fresh(dp), exp.fresh(ad), exp.fresh(pl), exp.fresh(fmt) FROM exp.__DS___c2 ORDER BY 1, 2, 3;

-- ---------- (c) compact columns inside records ----------
DROP TABLE IF EXISTS exp.__DS___rc2, exp.__DS___rc2_lz4, exp.__DS___rc1_lz4;
CREATE TABLE exp.__DS___rc2 (LIKE exp.__DS___records INCLUDING ALL);
ALTER TABLE exp.__DS___rc2 ADD COLUMN gt bytea, ADD COLUMN gq bytea, ADD COLUMN dp bytea,
  ADD COLUMN ad bytea, ADD COLUMN pl bytea, ADD COLUMN fmt jsonb;
INSERT INTO exp.__DS___rc2 SELECT r.*, exp.fresh(a.gt_n), exp.fresh(a.gq_fw), exp.fresh(a.dp_fw), exp.fresh(a.ad_v), exp.fresh(a.pl_v), exp.fresh(a.fmt_a)
  FROM exp.__DS___records r LEFT JOIN exp.__DS___agg a USING (session_id, record_no, alt_no) ORDER BY 1, 2, 3;
CREATE TABLE exp.__DS___rc2_lz4 (LIKE exp.__DS___records_lz4 INCLUDING ALL) WITH (toast_tuple_target = 128);

ALTER TABLE exp.__DS___rc2_lz4 ADD COLUMN gt bytea COMPRESSION lz4, ADD COLUMN gq bytea COMPRESSION lz4,
  ADD COLUMN dp bytea COMPRESSION lz4, ADD COLUMN ad bytea COMPRESSION lz4,
  ADD COLUMN pl bytea COMPRESSION lz4, ADD COLUMN fmt jsonb COMPRESSION lz4;
CALL exp.mainify('exp.__DS___rc2_lz4', 'lz4');
INSERT INTO exp.__DS___rc2_lz4 SELECT session_id, record_no, alt_no, variant_id, exp.fresh(id), qual, exp.fresh(filter), exp.fresh(info), exp.fresh(alts), exp.fresh(gt), exp.fresh(gq), exp.fresh(dp), exp.fresh(ad), exp.fresh(pl), exp.fresh(fmt) FROM exp.__DS___rc2 ORDER BY 1, 2, 3;
CREATE TABLE exp.__DS___rc1_lz4 (LIKE exp.__DS___records_lz4 INCLUDING ALL) WITH (toast_tuple_target = 128);

ALTER TABLE exp.__DS___rc1_lz4 ADD COLUMN gt bytea COMPRESSION lz4, ADD COLUMN gq smallint[] COMPRESSION lz4,
  ADD COLUMN dp smallint[] COMPRESSION lz4, ADD COLUMN ad integer[] COMPRESSION lz4,
  ADD COLUMN pl integer[] COMPRESSION lz4, ADD COLUMN fmt jsonb COMPRESSION lz4;
CALL exp.mainify('exp.__DS___rc1_lz4', 'lz4');
INSERT INTO exp.__DS___rc1_lz4 SELECT r.session_id, r.record_no, r.alt_no, r.variant_id, exp.fresh(r.id), r.qual, exp.fresh(r.filter), exp.fresh(r.info), exp.fresh(r.alts), exp.fresh(a.gt_b), exp.fresh(a.gq_i2), exp.fresh(a.dp_i2), exp.fresh(a.ad2d), exp.fresh(a.pl2d), exp.fresh(a.fmt_a)
  FROM exp.__DS___records r LEFT JOIN exp.__DS___agg a USING (session_id, record_no, alt_no) ORDER BY 1, 2, 3;

-- ---------- (d1) one blob per row of all FORMAT values, in records, lz4 ----------
-- blob = for each of gt_n, gq_fw, dp_fw, ad_v, pl_v, fmt (jsonb text): varint(length) || bytes
DROP TABLE IF EXISTS exp.__DS___d1, exp.__DS___d2;
CREATE TABLE exp.__DS___d1 (LIKE exp.__DS___records_lz4 INCLUDING ALL) WITH (toast_tuple_target = 128);

ALTER TABLE exp.__DS___d1 ADD COLUMN gblob bytea COMPRESSION lz4;
CALL exp.mainify('exp.__DS___d1', 'lz4');
INSERT INTO exp.__DS___d1
SELECT r.*, CASE WHEN a.record_no IS NOT NULL THEN
   exp.varint(coalesce(length(a.gt_n), 0)) || coalesce(a.gt_n, '') ||
   exp.varint(coalesce(length(a.gq_fw), 0)) || coalesce(a.gq_fw, '') ||
   exp.varint(coalesce(length(a.dp_fw), 0)) || coalesce(a.dp_fw, '') ||
   exp.varint(coalesce(length(a.ad_v), 0)) || coalesce(a.ad_v, '') ||
   exp.varint(coalesce(length(a.pl_v), 0)) || coalesce(a.pl_v, '') ||
   exp.varint(coalesce(octet_length(a.fmt_a::text), 0)) || coalesce(convert_to(a.fmt_a::text, 'UTF8'), '') END
  FROM exp.__DS___records r LEFT JOIN exp.__DS___agg a USING (session_id, record_no, alt_no) ORDER BY 1, 2, 3;

-- ---------- (d2) blocks of 64 records: one row per (session, block), all FORMAT values of its ALT rows, lz4 ----------
CREATE TABLE exp.__DS___d2 (
    session_id uuid NOT NULL, block_no integer NOT NULL,
    gblob bytea COMPRESSION lz4,
    PRIMARY KEY (session_id, block_no)) WITH (toast_tuple_target = 128);

CALL exp.mainify('exp.__DS___d2', 'lz4');
INSERT INTO exp.__DS___d2
SELECT d.session_id, ((d.record_no - 1) / 64)::int,
       string_agg(exp.varint(d.record_no) || exp.varint(d.alt_no) || exp.varint(length(d.gblob)) || d.gblob, ''::bytea
                  ORDER BY d.record_no, d.alt_no)
  FROM exp.__DS___d1 d WHERE d.gblob IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2;

-- (d2) with other block sizes (256 and 1024 records)
DROP TABLE IF EXISTS exp.__DS___d2_256, exp.__DS___d2_1024, exp.__DS___lines_blk;
CREATE TABLE exp.__DS___d2_256 (LIKE exp.__DS___d2 INCLUDING ALL) WITH (toast_tuple_target = 128);
CALL exp.mainify('exp.__DS___d2_256', 'lz4');
INSERT INTO exp.__DS___d2_256
SELECT d.session_id, ((d.record_no - 1) / 256)::int,
       string_agg(exp.varint(d.record_no) || exp.varint(d.alt_no) || exp.varint(length(d.gblob)) || d.gblob, ''::bytea
                  ORDER BY d.record_no, d.alt_no)
  FROM exp.__DS___d1 d WHERE d.gblob IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2;
CREATE TABLE exp.__DS___d2_1024 (LIKE exp.__DS___d2 INCLUDING ALL) WITH (toast_tuple_target = 128);
CALL exp.mainify('exp.__DS___d2_1024', 'lz4');
INSERT INTO exp.__DS___d2_1024
SELECT d.session_id, ((d.record_no - 1) / 1024)::int,
       string_agg(exp.varint(d.record_no) || exp.varint(d.alt_no) || exp.varint(length(d.gblob)) || d.gblob, ''::bytea
                  ORDER BY d.record_no, d.alt_no)
  FROM exp.__DS___d1 d WHERE d.gblob IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2;
-- record_lines in blocks of 64 records (lines joined by LF), lz4
CREATE TABLE exp.__DS___lines_blk (
    session_id uuid NOT NULL, block_no integer NOT NULL, first_line_no bigint NOT NULL, lines text COMPRESSION lz4,
    PRIMARY KEY (session_id, block_no)) WITH (toast_tuple_target = 128);
CALL exp.mainify('exp.__DS___lines_blk', 'lz4');
INSERT INTO exp.__DS___lines_blk
SELECT session_id, ((record_no - 1) / 64)::int, min(line_no), string_agg(line, E'\n' ORDER BY record_no)
  FROM exp.__DS___lines GROUP BY 1, 2 ORDER BY 1, 2;

VACUUM ANALYZE;
