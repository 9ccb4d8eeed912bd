\set ON_ERROR_STOP 1
SET jit = off;
DROP TABLE IF EXISTS exp.__DS___d2_1024_pglz, exp.__DS___d2_pglz, exp.__DS___lines_blk_pglz;
CREATE TABLE exp.__DS___d2_pglz (LIKE exp.__DS___d2 INCLUDING ALL) WITH (toast_tuple_target = 128);
CALL exp.mainify('exp.__DS___d2_pglz', 'pglz');
INSERT INTO exp.__DS___d2_pglz SELECT session_id, block_no, exp.fresh(gblob) FROM exp.__DS___d2 ORDER BY 1, 2;
CREATE TABLE exp.__DS___d2_1024_pglz (LIKE exp.__DS___d2 INCLUDING ALL) WITH (toast_tuple_target = 128);
CALL exp.mainify('exp.__DS___d2_1024_pglz', 'pglz');
INSERT INTO exp.__DS___d2_1024_pglz SELECT session_id, block_no, exp.fresh(gblob) FROM exp.__DS___d2_1024 ORDER BY 1, 2;
CREATE TABLE exp.__DS___lines_blk_pglz (LIKE exp.__DS___lines_blk INCLUDING ALL) WITH (toast_tuple_target = 128);
CALL exp.mainify('exp.__DS___lines_blk_pglz', 'pglz');
INSERT INTO exp.__DS___lines_blk_pglz SELECT session_id, block_no, first_line_no, exp.fresh(lines) FROM exp.__DS___lines_blk ORDER BY 1, 2;
VACUUM ANALYZE exp.__DS___d2_pglz, exp.__DS___d2_1024_pglz, exp.__DS___lines_blk_pglz;
