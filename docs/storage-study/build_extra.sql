\set ON_ERROR_STOP 1
\timing on
SET jit=off;

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
