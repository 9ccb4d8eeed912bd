-- The PL/Python block engine, vcf._ingest_block_py (vcf_pg_loader_plpython),
-- on hand-made blocks, against docs/vcf-semantics.md rule by rule:
--   * lines: blank lines counted but skipped, record and file line numbers,
--     record_lines verbatim, the counts returned, sites-only files (no calls);
--   * site columns: id, qual, filter, alts; variants shared across blocks
--     (ON CONFLICT), allele_key = vcf._allele_key(ref, alt);
--   * typing: Integer, Float (exponents, nan/inf as strings), Flag,
--     Character, String, '.' elements, a whole '.', Number 1/0 scalar, other
--     Numbers arrays, percent-decoding (UTF-8, invalid sequences kept);
--   * slicing per ALT: INFO A/R/G (G diploid), FORMAT R, G diploid, haploid
--     (from GT, and from the count without GT), ploidy above 2 unsliced,
--     count mismatch kept unsliced on every ALT row, K = 1 never checked;
--   * GT: recoding per ALT, phasing, '.', './.', a sample column '.', GT
--     absent (omitted trailing field, empty sample column), bad_gt;
--   * promoted GQ/DP/AD/PL, and when they stay in fmt (defined otherwise,
--     not defined, a non-integer or non-32-bit element); trailing omitted
--     FORMAT fields; fmt NULL when nothing is left; keys given twice;
--   * warnings: messages of count_mismatch, undefined_key, bad_value,
--     bad_gt, ploidy, exactly as the contract writes them;
--   * VP040: every reason, its message, DETAIL and HINT, file line numbers.
-- The engine is called directly with made-up session and sample ids
-- (records, session_samples, record_lines and variants have no foreign
-- keys); everything is rolled back.
BEGIN;
SELECT plan(92);
SET LOCAL client_min_messages = warning;

CREATE TEMPORARY TABLE vcf_ingest_warnings (code text, line_no bigint, field text, message text);

-- Lines as written below, spaces standing for TABs (no value here has a space).
CREATE FUNCTION pg_temp.tsv(p_lines text[]) RETURNS text LANGUAGE sql IMMUTABLE
RETURN replace(array_to_string(p_lines, E'\n'), ' ', E'\t') || E'\n';

-- The session id of test case n.
CREATE FUNCTION pg_temp.sid(p_case integer) RETURNS uuid LANGUAGE sql IMMUTABLE
RETURN format('00000000-0000-4000-8000-%s', lpad(p_case::text, 12, '0'))::uuid;

-- Header definitions as vcf._ingest_header returns them.
CREATE FUNCTION pg_temp.fields() RETURNS jsonb LANGUAGE sql IMMUTABLE
RETURN '{"INFO": {"DP": {"number": "1", "type": "Integer"}, "AF": {"number": "A", "type": "Float"},
                  "AC": {"number": "A", "type": "Integer"}, "RD": {"number": "R", "type": "Integer"},
                  "GL": {"number": "G", "type": "Float"}, "DB": {"number": "0", "type": "Flag"},
                  "S": {"number": "1", "type": "String"}, "SS": {"number": ".", "type": "String"},
                  "C": {"number": "1", "type": "Character"}, "N2": {"number": "2", "type": "Integer"},
                  "FL": {"number": "1", "type": "Float"}},
         "FORMAT": {"GT": {"number": "1", "type": "String"}, "GQ": {"number": "1", "type": "Integer"},
                    "DP": {"number": "1", "type": "Integer"}, "AD": {"number": "R", "type": "Integer"},
                    "PL": {"number": "G", "type": "Integer"}, "GL": {"number": "G", "type": "Float"},
                    "FT": {"number": "1", "type": "String"}, "HQ": {"number": "2", "type": "Integer"},
                    "XA": {"number": "A", "type": "Float"}}}'::jsonb;

-- Runs the engine on one block of case n: lines, samples, file lines before.
CREATE FUNCTION pg_temp.blk(p_case integer, p_lines text[], p_samples integer,
                            p_lines_before bigint, p_fields jsonb DEFAULT pg_temp.fields(),
                            p_records_before bigint DEFAULT 0)
RETURNS text LANGUAGE sql VOLATILE
AS $$
-- the sample columns vcf._ingest_header would have written: vcf.calls reads
-- the genotype columns of vcf.records through them
INSERT INTO vcf.session_samples (session_id, sample_index, sample_id)
SELECT pg_temp.sid(p_case), g, 1000 * p_case + g FROM generate_series(1, p_samples) AS g
    ON CONFLICT DO NOTHING;
SELECT format('%s/%s/%s', b.o_records, b.o_variants, b.o_calls)
  FROM vcf._ingest_block_py(
           pg_temp.sid(p_case), pg_temp.tsv(p_lines), p_lines_before, p_records_before,
           CASE WHEN p_samples = 0 THEN 8 ELSE 9 + p_samples END,
           ARRAY(SELECT 1000 * p_case + g FROM generate_series(1, p_samples) AS g)::bigint[],
           p_fields) AS b;
$$;

-- sqlstate, message, detail and hint of the error a statement raises.
CREATE FUNCTION pg_temp.err(p_sql text) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_message text;
    v_detail text;
    v_hint text;
BEGIN
    EXECUTE p_sql;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
                            v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;
    RETURN ARRAY[v_state, v_message, nullif(v_detail, ''), nullif(v_hint, '')];
END
$$;

CREATE FUNCTION pg_temp.info(p_case integer, p_record bigint, p_alt integer DEFAULT 1)
RETURNS jsonb LANGUAGE sql STABLE
RETURN (SELECT r.info FROM vcf.records r
         WHERE r.session_id = pg_temp.sid(p_case) AND r.record_no = p_record AND r.alt_no = p_alt);

CREATE FUNCTION pg_temp.call(p_case integer, p_record bigint, p_alt integer, p_sample integer)
RETURNS vcf.calls LANGUAGE sql STABLE
RETURN (SELECT c FROM vcf.calls c
         WHERE c.session_id = pg_temp.sid(p_case) AND c.record_no = p_record AND c.alt_no = p_alt
           AND c.sample_id = 1000 * p_case + p_sample);

CREATE FUNCTION pg_temp.warnings(p_from bigint, p_to bigint) RETURNS SETOF text LANGUAGE sql STABLE
AS $$
SELECT w.code || ' ' || w.field || ' | ' || w.message FROM vcf_ingest_warnings w
 WHERE w.line_no BETWEEN p_from AND p_to ORDER BY w.line_no, w.message
$$;

-- ------------------------------------------------------------ 1: lines, site columns, typing
SELECT is(pg_temp.blk(1, ARRAY[
    '',
    'chr1 100 rs1 A G 50 PASS DP=10;AF=0.5;DB;S=a%3Bb%2Cc%3D%25%3a;SS=x,y%2Cz;C=Q;N2=1,.;FL=1.50e1',
    'chr1 101 . C T,* . . FL=-INF;AF=inf,NaN;SS=.;S=.;DP=+007',
    '',
    '',
    'chr1 102 id2 G GA 1e3 q10;lowdp .',
    'chr1 103 . T . -.5 . S=%C3%A9t%C3%A9;SS=%FF,%ZZ,50%,%00',
    'chr1 104 . T A 0 PASS SS=;FL=.;AF=-1.25E-3;DB;DB;GL=1,2,3',
    'chr1 105 . T A nan PASS ;;DP=1;;N2=3,4,5'], 0, 10), '6/7/0',
    'sites only: 6 records, 7 record rows, no calls');
SELECT results_eq(
    format('SELECT record_no, line_no, line FROM vcf.record_lines WHERE session_id = %L ORDER BY 1', pg_temp.sid(1)),
    $$VALUES (1::bigint, 12::bigint, E'chr1\t100\trs1\tA\tG\t50\tPASS\tDP=10;AF=0.5;DB;S=a%3Bb%2Cc%3D%25%3a;SS=x,y%2Cz;C=Q;N2=1,.;FL=1.50e1'),
             (2, 13, E'chr1\t101\t.\tC\tT,*\t.\t.\tFL=-INF;AF=inf,NaN;SS=.;S=.;DP=+007'),
             (3, 16, E'chr1\t102\tid2\tG\tGA\t1e3\tq10;lowdp\t.'),
             (4, 17, E'chr1\t103\t.\tT\t.\t-.5\t.\tS=%C3%A9t%C3%A9;SS=%FF,%ZZ,50%,%00'),
             (5, 18, E'chr1\t104\t.\tT\tA\t0\tPASS\tSS=;FL=.;AF=-1.25E-3;DB;DB;GL=1,2,3'),
             (6, 19, E'chr1\t105\t.\tT\tA\tnan\tPASS\t;;DP=1;;N2=3,4,5')$$,
    'record_lines: verbatim lines, records numbered skipping blank lines, file line numbers counting them');
SELECT results_eq(
    format($$SELECT r.record_no, r.alt_no::integer, v.chrom, v.pos, v.ref, v.alt, v.allele_key = vcf._allele_key(v.ref, v.alt),
                    r.id, r.qual, r.filter, r.alts
               FROM vcf.records r JOIN vcf.variants v USING (variant_id)
              WHERE r.session_id = %L AND r.record_no < 5 ORDER BY 1, 2$$, pg_temp.sid(1)),
    $$VALUES (1::bigint, 1, 'chr1', 100, 'A', 'G', true, 'rs1', 50::float8, '{PASS}'::text[], '{G}'::text[]),
             (2, 1, 'chr1', 101, 'C', 'T', true, NULL, NULL, NULL, '{T,*}'),
             (2, 2, 'chr1', 101, 'C', '*', true, NULL, NULL, NULL, '{T,*}'),
             (3, 1, 'chr1', 102, 'G', 'GA', true, 'id2', 1000, '{q10,lowdp}', '{GA}'),
             (4, 1, 'chr1', 103, 'T', '.', true, NULL, -0.5, NULL, '{.}')$$,
    'records: variants, id, qual, filter and alts as the PL/pgSQL engine writes them');
SELECT is((SELECT qual::text FROM vcf.records WHERE session_id = pg_temp.sid(1) AND record_no = 6),
          'NaN', 'QUAL nan is NaN');
SELECT is(pg_temp.info(1, 1),
          '{"DP": 10, "AF": [0.5], "DB": true, "S": "a;b,c=%:", "SS": ["x", "y,z"], "C": "Q",
            "N2": [1, null], "FL": 15}'::jsonb,
          'INFO typed: Integer, Float, Flag, String, Character; Number 1 scalar, others arrays; percent-decoded');
SELECT is(pg_temp.info(1, 1)->>'FL', '15.0', 'a Float keeps its decimal digits (1.50e1 is 15.0, not a float round trip)');
SELECT is(pg_temp.info(1, 2, 1),
          '{"FL": "-Infinity", "AF": ["Infinity"], "SS": null, "S": null, "DP": 7}'::jsonb,
          'inf and -INF as strings, a whole "." is null, +007 is 7 (ALT 1)');
SELECT is(pg_temp.info(1, 2, 2)->'AF', '["NaN"]'::jsonb, 'NaN as a string, sliced to ALT 2');
SELECT is(pg_temp.info(1, 3), NULL, 'INFO "." is NULL');
SELECT is(pg_temp.info(1, 4),
          jsonb_build_object('S', 'été', 'SS', jsonb_build_array('%FF', '%ZZ', '50%', '%00')),
          'percent-decoding: UTF-8 sequences decoded; invalid UTF-8, NUL, non-hex and a lone % kept as written');
SELECT is(pg_temp.info(1, 5),
          '{"FL": null, "AF": [-0.00125], "DB": true, "GL": [1, 2, 3]}'::jsonb,
          'an empty array value has no elements (key absent); Float exponent; a Flag twice; K = 1 G unchecked');
SELECT is(pg_temp.info(1, 6), '{"DP": 1, "N2": [3, 4, 5]}'::jsonb,
          'empty INFO items are skipped; Number=2 with 3 values is kept as is (only A/R/G are checked)');
SELECT is((SELECT count(*) FROM vcf.calls WHERE session_id = pg_temp.sid(1)), 0::bigint, 'sites only: no calls');

-- ------------------------------------------------------------ 2: INFO slicing
SELECT is(pg_temp.blk(2, ARRAY[
    'chr2 200 . A G,T 30 PASS AF=0.1,0.2;AC=3,4;RD=10,11,12;GL=0,1,2,3,4,5;N2=7,8;S=a,b',
    'chr2 300 . A G,T,C 30 PASS GL=0,1,2,3,4,5,6,7,8,9;RD=.',
    'chr2 400 . A G,T 30 PASS AF=0.1,0.2,0.3;RD=1,2;AC=.;GL=1,2,3'], 0, 200), '3/7/0',
    'INFO slicing block: 3 records, 7 record rows');
SELECT is(pg_temp.info(2, 1, 1),
          '{"AF": [0.1], "AC": [3], "RD": [10, 11], "GL": [0, 1, 2], "N2": [7, 8], "S": "a,b"}'::jsonb,
          'ALT 1 of 2: A [0], R [0,1], G [0,1,2]; Number 2 unsliced; Number 1 keeps commas');
SELECT is(pg_temp.info(2, 1, 2),
          '{"AF": [0.2], "AC": [4], "RD": [10, 12], "GL": [0, 3, 5], "N2": [7, 8], "S": "a,b"}'::jsonb,
          'ALT 2 of 2: A [1], R [0,2], G [0,3,5]');
SELECT is(pg_temp.info(2, 2, 3), '{"GL": [0, 6, 9], "RD": null}'::jsonb,
          'ALT 3 of 3: INFO G taken as diploid [0,6,9]; a whole "." stays null');
SELECT is(pg_temp.info(2, 3, 1), '{"AF": [0.1, 0.2, 0.3], "RD": [1, 2], "AC": null, "GL": [1, 2, 3]}'::jsonb,
          'count mismatch: kept unsliced on ALT 1');
SELECT is(pg_temp.info(2, 3, 2), pg_temp.info(2, 3, 1), 'count mismatch: the same on ALT 2');
SELECT results_eq('SELECT * FROM pg_temp.warnings(200, 299)', ARRAY[
    'count_mismatch INFO/AF | line 203: INFO/AF has 3 values, Number=A expects 2',
    'count_mismatch INFO/GL | line 203: INFO/GL has 3 values, Number=G expects 6',
    'count_mismatch INFO/RD | line 203: INFO/RD has 2 values, Number=R expects 3'],
    'count_mismatch: one per record and field (not per ALT row), none for a whole "."');

-- ------------------------------------------------------------ 3: FORMAT slicing, ploidy
SELECT is(pg_temp.blk(3, ARRAY[
    'chr3 100 . A C,G 50 PASS . GT:AD:PL:GL 0/1:1,2,3:0,1,2,3,4,5:. 1:4,5,6:10,20,30:1,2,3 .:.:.:. 1/2/1:1,2,3:0,1,2,3,4,5,6,7,8,9:.',
    'chr3 200 . A C,G 50 PASS . PL:GQ 0,1,2:5 0,1,2,3,4,5 . 0,1',
    'chr3 300 . A C,G 50 PASS . GT:AD:PL 0/1:1,2:0,1,2,3 1:.:0,1,2,3,4,5 0/1/1:.:1,2,3 0:.:.'], 4, 300), '3/6/24',
    'FORMAT slicing block: 3 records, 6 record rows, 24 calls');
SELECT is(ARRAY[(pg_temp.call(3, 1, 1, 1)).ad, (pg_temp.call(3, 1, 2, 1)).ad], '{{1,2},{1,3}}'::integer[],
          'FORMAT R sliced: [0,1], [0,2]');
SELECT is(ARRAY[(pg_temp.call(3, 1, 1, 1)).pl, (pg_temp.call(3, 1, 2, 1)).pl], '{{0,1,2},{0,3,5}}'::integer[],
          'FORMAT G, diploid GT: [0,1,2], [0,3,5]');
SELECT is(ARRAY[(pg_temp.call(3, 1, 1, 2)).pl, (pg_temp.call(3, 1, 2, 2)).pl], '{{10,20},{10,30}}'::integer[],
          'FORMAT G, haploid GT: [0,1], [0,2]');
SELECT is(ARRAY[(pg_temp.call(3, 1, 1, 2)).fmt, (pg_temp.call(3, 1, 2, 2)).fmt],
          ARRAY['{"GL": [1, 2]}', '{"GL": [1, 3]}']::jsonb[], 'a Float G field in fmt, haploid, sliced likewise');
SELECT is((pg_temp.call(3, 1, 1, 1)).fmt, '{"GL": null}'::jsonb, 'a whole "." in fmt is null');
SELECT is(ROW((pg_temp.call(3, 1, 2, 3)).gt, (pg_temp.call(3, 1, 2, 3)).ad, (pg_temp.call(3, 1, 2, 3)).pl,
              (pg_temp.call(3, 1, 2, 3)).fmt)::text,
          ROW('{NULL}'::smallint[], NULL::integer[], NULL::integer[], '{"GL": null}'::jsonb)::text,
          'all "." subfields: gt {NULL}, promoted NULL, fmt null values');
SELECT is(ARRAY[(pg_temp.call(3, 1, 1, 4)).pl, (pg_temp.call(3, 1, 2, 4)).pl],
          '{{0,1,2,3,4,5,6,7,8,9},{0,1,2,3,4,5,6,7,8,9}}'::integer[], 'ploidy 3: PL kept unsliced on every ALT row');
SELECT is(ARRAY[(pg_temp.call(3, 2, 1, 1)).pl, (pg_temp.call(3, 2, 2, 1)).pl], '{{0,1},{0,2}}'::integer[],
          'no GT, K+1 values: haploid');
SELECT is(ARRAY[(pg_temp.call(3, 2, 1, 2)).pl, (pg_temp.call(3, 2, 2, 2)).pl], '{{0,1,2},{0,3,5}}'::integer[],
          'no GT, diploid count: diploid');
SELECT is(ROW((pg_temp.call(3, 2, 2, 1)).gq, (pg_temp.call(3, 2, 2, 1)).gt, (pg_temp.call(3, 2, 2, 1)).phased)::text,
          ROW(5, NULL::smallint[], NULL::boolean)::text, 'no GT in FORMAT: gt and phased NULL; GQ on every ALT row');
SELECT is(ROW((pg_temp.call(3, 2, 1, 3)).pl, (pg_temp.call(3, 2, 1, 3)).gq, (pg_temp.call(3, 2, 1, 3)).fmt)::text,
          ROW(NULL::integer[], NULL::integer, NULL::jsonb)::text, 'PL "." is NULL; omitted GQ is NULL; fmt NULL');
SELECT is(ARRAY[(pg_temp.call(3, 2, 1, 4)).pl, (pg_temp.call(3, 2, 2, 4)).pl], '{{0,1},{0,1}}'::integer[],
          'no GT, neither count: count mismatch against diploid, unsliced');
SELECT is(ARRAY[(pg_temp.call(3, 3, 1, 1)).ad, (pg_temp.call(3, 3, 2, 1)).ad], '{{1,2},{1,2}}'::integer[],
          'FORMAT R count mismatch: unsliced');
SELECT is(ARRAY[(pg_temp.call(3, 3, 1, 1)).pl, (pg_temp.call(3, 3, 2, 1)).pl], '{{0,1,2,3},{0,1,2,3}}'::integer[],
          'FORMAT G count mismatch (diploid): unsliced');
SELECT is(ARRAY[(pg_temp.call(3, 3, 1, 2)).pl, (pg_temp.call(3, 3, 2, 2)).pl],
          '{{0,1,2,3,4,5},{0,1,2,3,4,5}}'::integer[], 'FORMAT G, haploid GT but diploid count: mismatch, unsliced');
SELECT is(ARRAY[(pg_temp.call(3, 3, 1, 3)).pl, (pg_temp.call(3, 3, 2, 3)).pl], '{{1,2,3},{1,2,3}}'::integer[],
          'ploidy 3 with K+1 values: unsliced');
SELECT results_eq('SELECT * FROM pg_temp.warnings(300, 399)', ARRAY[
    'ploidy FORMAT/PL | line 301: sample 4: FORMAT/PL with ploidy 3 kept unsliced',
    'count_mismatch FORMAT/PL | line 302: sample 4: FORMAT/PL has 2 values, Number=G expects 6',
    'count_mismatch FORMAT/AD | line 303: sample 1: FORMAT/AD has 2 values, Number=R expects 3',
    'count_mismatch FORMAT/PL | line 303: sample 1: FORMAT/PL has 4 values, Number=G expects 6',
    'count_mismatch FORMAT/PL | line 303: sample 2: FORMAT/PL has 6 values, Number=G expects 3',
    'ploidy FORMAT/PL | line 303: sample 3: FORMAT/PL with ploidy 3 kept unsliced'],
    'FORMAT count_mismatch and ploidy warnings name line, sample column and field');

-- ------------------------------------------------------------ 4: GT
SELECT is(pg_temp.blk(4, ARRAY[
    'chr4 100 . A C,G,T 50 PASS . GT 1/3 0|2 ./. . 4/1 a|0 1 00/01',
    'chr4 200 . A C 50 PASS . DP:GT 5 6:0|1 7: :1 . 8:1/ .:1 ',
    'chr4 300 . A C 50 PASS . GT:DP  0/1 .:3 1/0:4 0/1 0/1 0/1 0/1'], 8, 400), '3/5/40',
    'GT block: 3 records, 5 record rows, 40 calls');
SELECT results_eq(
    format('SELECT sample_id - 4000, array_agg(gt ORDER BY alt_no), bool_and(phased) FROM vcf.calls
             WHERE session_id = %L AND record_no = 1 GROUP BY sample_id ORDER BY 1', pg_temp.sid(4)),
    $$VALUES (1::bigint, '{{1,0},{0,0},{0,1}}'::smallint[], false), (2, '{{0,0},{0,1},{0,0}}', true),
             (3, '{{NULL,NULL},{NULL,NULL},{NULL,NULL}}', false), (4, '{{NULL},{NULL},{NULL}}', false),
             (5, '{{NULL,1},{NULL,0},{NULL,0}}', false), (6, '{{NULL,0},{NULL,0},{NULL,0}}', true),
             (7, '{{1},{0},{0}}', false), (8, '{{0,1},{0,0},{0,0}}', false)$$,
    'GT recoded per ALT (0 ref, 1 this ALT, 0 another), "." and bad alleles NULL, ploidy kept, phased on "|"');
SELECT results_eq(
    format('SELECT sample_id - 4000, gt, phased, dp, fmt FROM vcf.calls WHERE session_id = %L AND record_no = 2 ORDER BY 1',
           pg_temp.sid(4)),
    $$VALUES (1::bigint, NULL::smallint[], NULL::boolean, 5, NULL::jsonb), (2, '{0,1}', true, 6, NULL),
             (3, NULL, NULL, 7, NULL), (4, '{1}', false, NULL, '{"DP": ""}'), (5, NULL, NULL, NULL, NULL),
             (6, '{1,NULL}', false, 8, NULL), (7, '{1}', false, NULL, NULL), (8, NULL, NULL, NULL, NULL)$$,
    'GT omitted (trailing), empty, or after a sample column ".": NULL; an empty DP is a bad value');
SELECT results_eq(
    format('SELECT sample_id - 4000, gt, dp, fmt FROM vcf.calls WHERE session_id = %L AND record_no = 3 ORDER BY 1 LIMIT 3',
           pg_temp.sid(4)),
    $$VALUES (1::bigint, NULL::smallint[], NULL::integer, NULL::jsonb), (2, '{0,1}', NULL, NULL), (3, '{NULL}', 3, NULL)$$,
    'an empty sample column: every field absent');
SELECT results_eq('SELECT * FROM pg_temp.warnings(400, 499)', ARRAY[
    'bad_gt FORMAT/GT | line 401: sample 5: GT allele is not a number or names no allele of the record',
    'bad_gt FORMAT/GT | line 401: sample 6: GT allele is not a number or names no allele of the record',
    'bad_value FORMAT/DP | line 402: sample 4: FORMAT/DP has a value that is not a valid Integer',
    'bad_gt FORMAT/GT | line 402: sample 6: GT allele is not a number or names no allele of the record'],
    'bad_gt once per sample and record; GT is never an undefined or bad value');

-- ------------------------------------------------------------ 5: promoted columns
SELECT is(pg_temp.blk(5, ARRAY[
    'chr5 100 . A C,G 50 PASS . GT:GQ:DP:AD:PL:FT:HQ 0/1:30:12:5,6,1:0,10,20,30,40,50:PASS:1,2 0/1:3.5:.:5,x,1:.:.:. 0/1',
    'chr5 200 . A C 50 PASS . GT:DP:AD:GQ 0/1:3000000000:+1,-0:2147483647 0/1:-2147483648:1,2147483648:. 0/1'], 3, 500),
    '2/3/9', 'promotion block');
SELECT is(ROW((pg_temp.call(5, 1, 1, 1)).gq, (pg_temp.call(5, 1, 1, 1)).dp, (pg_temp.call(5, 1, 1, 1)).ad,
              (pg_temp.call(5, 1, 1, 1)).pl, (pg_temp.call(5, 1, 1, 1)).fmt)::text,
          ROW(30, 12, '{5,6}'::integer[], '{0,10,20}'::integer[], '{"FT": "PASS", "HQ": [1, 2]}'::jsonb)::text,
          'GQ, DP, AD, PL promoted (ALT 1); other fields in fmt');
SELECT is(ROW((pg_temp.call(5, 1, 2, 1)).ad, (pg_temp.call(5, 1, 2, 1)).pl)::text,
          ROW('{5,1}'::integer[], '{0,30,50}'::integer[])::text, 'AD and PL sliced for ALT 2');
SELECT is(ROW((pg_temp.call(5, 1, 1, 2)).gq, (pg_temp.call(5, 1, 1, 2)).dp, (pg_temp.call(5, 1, 1, 2)).ad,
              (pg_temp.call(5, 1, 1, 2)).pl, (pg_temp.call(5, 1, 1, 2)).fmt)::text,
          ROW(NULL::integer, NULL::integer, NULL::integer[], NULL::integer[],
              '{"GQ": "3.5", "AD": [5, "x"], "FT": null, "HQ": null}'::jsonb)::text,
          'a non-integer element keeps GQ/AD in fmt (typed, sliced); "." DP/PL are NULL columns');
SELECT is((pg_temp.call(5, 1, 2, 2)).fmt->'AD', '[5, 1]'::jsonb, 'AD in fmt sliced for ALT 2');
SELECT is(ROW((pg_temp.call(5, 2, 1, 1)).dp, (pg_temp.call(5, 2, 1, 1)).ad, (pg_temp.call(5, 2, 1, 1)).gq,
              (pg_temp.call(5, 2, 1, 1)).fmt)::text,
          ROW(NULL::integer, '{1,0}'::integer[], 2147483647, '{"DP": 3000000000}'::jsonb)::text,
          'an Integer beyond 32 bits stays in fmt as a JSON integer; +1 and -0 are integers');
SELECT is(ROW((pg_temp.call(5, 2, 1, 2)).dp, (pg_temp.call(5, 2, 1, 2)).ad, (pg_temp.call(5, 2, 1, 2)).gq,
              (pg_temp.call(5, 2, 1, 2)).fmt)::text,
          ROW(NULL::integer, NULL::integer[], NULL::integer, '{"AD": [1, 2147483648]}'::jsonb)::text,
          'AD with an element beyond 32 bits in fmt; a DP of -2147483648 (VCF''s reserved missing value) reads as missing');
SELECT is(ROW((pg_temp.call(5, 2, 1, 3)).gt, (pg_temp.call(5, 2, 1, 3)).dp, (pg_temp.call(5, 2, 1, 3)).fmt)::text,
          ROW('{0,1}'::smallint[], NULL::integer, NULL::jsonb)::text, 'trailing FORMAT fields omitted: NULL, not in fmt');
SELECT is(pg_temp.blk(6, ARRAY[
    'chr5 100 . A C,G 50 PASS . GT:GQ:DP:AD:PL 0/1:30:12:5,6,1:0,10,20,30,40,50'], 1, 600,
    '{"INFO": {}, "FORMAT": {"GT": {"number": "1", "type": "String"}, "GQ": {"number": "1", "type": "String"},
                             "DP": {"number": "1", "type": "Float"}, "AD": {"number": ".", "type": "Integer"},
                             "PL": {"number": "G", "type": "Float"}}}'::jsonb), '1/2/2',
    'fields defined otherwise');
SELECT is(ROW((pg_temp.call(6, 1, 2, 1)).gq, (pg_temp.call(6, 1, 2, 1)).dp, (pg_temp.call(6, 1, 2, 1)).ad,
              (pg_temp.call(6, 1, 2, 1)).pl, (pg_temp.call(6, 1, 2, 1)).fmt)::text,
          ROW(NULL::integer, NULL::integer, NULL::integer[], NULL::integer[],
              '{"GQ": "30", "DP": 12, "AD": [5, 6, 1], "PL": [0, 30, 50]}'::jsonb)::text,
          'GQ as String, DP as Float, AD Number=., PL as Float: all in fmt, typed and sliced as defined');
SELECT is(pg_temp.blk(7, ARRAY[
    'chr5 100 . A C 50 PASS . GT:GQ:DP 0/1:30:12'], 1, 700,
    '{"INFO": {}, "FORMAT": {"GT": {"number": "1", "type": "String"}}}'::jsonb), '1/1/1', 'fields not defined');
SELECT is(ROW((pg_temp.call(7, 1, 1, 1)).gq, (pg_temp.call(7, 1, 1, 1)).dp, (pg_temp.call(7, 1, 1, 1)).fmt)::text,
          ROW(NULL::integer, NULL::integer, '{"GQ": "30", "DP": "12"}'::jsonb)::text,
          'GQ and DP not defined: strings in fmt');
SELECT results_eq('SELECT * FROM pg_temp.warnings(500, 799)', ARRAY[
    'bad_value FORMAT/AD | line 501: sample 2: FORMAT/AD has a value that is not a valid Integer',
    'bad_value FORMAT/GQ | line 501: sample 2: FORMAT/GQ has a value that is not a valid Integer',
    'undefined_key FORMAT/DP | line 701: FORMAT/DP is not defined in the header; loaded as String',
    'undefined_key FORMAT/GQ | line 701: FORMAT/GQ is not defined in the header; loaded as String'],
    'bad_value for non-integer elements, none for integers beyond 32 bits; undefined FORMAT keys');

SELECT is(pg_temp.blk(14, ARRAY[
    'chr5 100 . A C 50 PASS . GT:DP:DP:AD:AD:FT:FT:GT 0/1:57:5:.:1,2:a:b:1/1 1:.:3:1,.:1,2:c'], 2, 1400), '1/1/2',
    'keys given twice');
SELECT is(ROW((pg_temp.call(14, 1, 1, 1)).gt, (pg_temp.call(14, 1, 1, 1)).dp, (pg_temp.call(14, 1, 1, 1)).ad,
              (pg_temp.call(14, 1, 1, 1)).fmt)::text,
          ROW('{0,1}'::smallint[], 57, '{1,2}'::integer[], '{"FT": "b"}'::jsonb)::text,
          'a key given twice: GT the first, a promoted column the largest (as max()), fmt the last');
SELECT is(ROW((pg_temp.call(14, 1, 1, 2)).dp, (pg_temp.call(14, 1, 1, 2)).ad)::text,
          ROW(3, '{1,NULL}'::integer[])::text, 'max() of arrays: a NULL element sorts above numbers');

-- ------------------------------------------------------------ 8: undefined keys, bad values, Flags
SELECT is(pg_temp.blk(8, ARRAY[
    'chr8 100 . A C,G 50 PASS XX=1,2;YY;DP=abc;FL=1.2.3;DB=1;AF=0.5,x;GT=0/1;N2=1,%31 GT:ZZ:FT:XA 0/1:a,b:%3B:1,nan 1/1:c',
    'chr8 200 . A C 50 PASS FL=1e-16383;AF=1e-16384 GT 0/1 0/1'], 2, 800), '2/3/6', 'warnings block');
SELECT is(pg_temp.info(8, 1, 2),
          '{"XX": "1,2", "YY": true, "DP": "abc", "FL": "1.2.3", "DB": true, "AF": ["x"], "GT": "0/1", "N2": [1, "1"]}'::jsonb,
          'undefined keys as Number=1 String (commas kept), a key without = as Flag; bad values kept as (decoded) strings');
SELECT is(ARRAY[(pg_temp.call(8, 1, 1, 1)).fmt, (pg_temp.call(8, 1, 2, 1)).fmt, (pg_temp.call(8, 1, 1, 2)).fmt],
          ARRAY['{"ZZ": "a,b", "FT": ";", "XA": [1]}', '{"ZZ": "a,b", "FT": ";", "XA": ["NaN"]}', '{"ZZ": "c"}']::jsonb[],
          'undefined FORMAT key as String; decoded String; Float A sliced');
SELECT is(pg_temp.info(8, 2), jsonb_build_object('FL', '1e-16383'::numeric, 'AF', jsonb_build_array('1e-16384')),
          'a Float with more decimal places than numeric (jsonb) holds is not valid: kept as a string');
SELECT results_eq('SELECT * FROM pg_temp.warnings(800, 899)', ARRAY[
    'undefined_key FORMAT/ZZ | line 801: FORMAT/ZZ is not defined in the header; loaded as String',
    'undefined_key FORMAT/ZZ | line 801: FORMAT/ZZ is not defined in the header; loaded as String',
    'bad_value INFO/AF | line 801: INFO/AF has a value that is not a valid Float',
    'bad_value INFO/DB | line 801: INFO/DB has a value that is not a valid Flag',
    'bad_value INFO/DP | line 801: INFO/DP has a value that is not a valid Integer',
    'bad_value INFO/FL | line 801: INFO/FL has a value that is not a valid Float',
    'undefined_key INFO/GT | line 801: INFO/GT is not defined in the header; loaded as String',
    'bad_value INFO/N2 | line 801: INFO/N2 has a value that is not a valid Integer',
    'undefined_key INFO/XX | line 801: INFO/XX is not defined in the header; loaded as String',
    'undefined_key INFO/YY | line 801: INFO/YY is not defined in the header; loaded as Flag',
    'bad_value INFO/AF | line 802: INFO/AF has a value that is not a valid Float'],
    'undefined_key (FORMAT: once per sample that has the field) and bad_value messages');

-- ------------------------------------------------------------ 9: variants shared, counts with records before
SELECT is(pg_temp.blk(9, ARRAY['chr1 100 rs1 A G 50 PASS .', 'chr9 1 . A G,T 50 PASS .'], 0, 900,
                      pg_temp.fields(), 41), '2/3/0', 'a second session with a known variant');
SELECT is((SELECT count(*) FROM vcf.variants WHERE chrom = 'chr1' AND pos = 100 AND ref = 'A' AND alt = 'G'),
          1::bigint, 'a variant seen before is not inserted again');
SELECT is((SELECT r.variant_id FROM vcf.records r WHERE r.session_id = pg_temp.sid(9) AND r.record_no = 42),
          (SELECT r.variant_id FROM vcf.records r WHERE r.session_id = pg_temp.sid(1) AND r.record_no = 1),
          'both sessions'' records point to the same variant; record numbers continue from p_records_before');
SELECT is(pg_temp.blk(10, ARRAY['chr9 1 . A G,T 50 PASS .', 'chr9 1 . A T,G 50 PASS .'], 0, 1000),
          '2/4/0', 'the same alleles in two records of one block');
SELECT is((SELECT count(DISTINCT variant_id) FROM vcf.records WHERE session_id = pg_temp.sid(10)), 2::bigint,
          'two variants, each used twice');

-- ------------------------------------------------------------ 11: VP040
SELECT is(pg_temp.err(format('SELECT pg_temp.blk(11, %L, 2, 1100)',
          ARRAY['chr1 1 . A G 1 PASS . GT 0 0', '', 'chr1 2 . A G 1 PASS . GT 0'])),
          ARRAY['VP040', 'session 00000000-0000-4000-8000-000000000011: line 1103: wrong number of columns',
                'The line has 10 columns; the #CHROM line has 11.',
                'Fix the file and load it again; nothing of it was written.'],
          'VP040: wrong number of columns, with DETAIL and HINT, the file line counting blank lines');
SELECT is(pg_temp.err(format('SELECT pg_temp.blk(11, %L, 0, 1100)', ARRAY['chr1 1 . A G 1 PASS . x'])),
          ARRAY['VP040', 'session 00000000-0000-4000-8000-000000000011: line 1101: wrong number of columns',
                'The line has 9 columns; the #CHROM line has 8.',
                'Fix the file and load it again; nothing of it was written.'],
          'VP040: too many columns');
SELECT is(pg_temp.err(format('SELECT pg_temp.blk(11, %L, 0, 1100)', ARRAY[' 1 . A G 1 PASS .'])),
          ARRAY['VP040', 'session 00000000-0000-4000-8000-000000000011: line 1101: empty CHROM', NULL,
                'Fix the file and load it again; nothing of it was written.'],
          'VP040: empty CHROM, no DETAIL');
SELECT is((pg_temp.err(format('SELECT pg_temp.blk(11, %L, 0, 1100)', ARRAY['chr1 ' || p || ' . A G 1 PASS .'])))[2],
          'session 00000000-0000-4000-8000-000000000011: line 1101: POS is not a number between 0 and 2147483647',
          format('VP040: POS %L', p))
  FROM unnest(ARRAY['2147483648', '-1', '1.0', '', '12345678901', 'x']) AS p;
SELECT is(pg_temp.blk(11, ARRAY['chr1 2147483647 . A G 1 PASS .', 'chr1 0 . A G 1 PASS .'], 0, 1100), '2/2/0',
          'POS 0 and 2147483647 are accepted');
SELECT is((pg_temp.err(format('SELECT pg_temp.blk(12, %L, 0, 1200)', ARRAY[l])))[2],
          'session 00000000-0000-4000-8000-000000000012: line 1201: empty REF or ALT', 'VP040: empty REF or ALT')
  FROM unnest(ARRAY['chr1 1 .  G 1 PASS .', 'chr1 1 . A  1 PASS .']) AS l;
SELECT is((pg_temp.err(format('SELECT pg_temp.blk(12, %L, 0, 1200)', ARRAY['chr1 1 . A G ' || q || ' PASS .'])))[1:2],
          ARRAY['VP040', 'session 00000000-0000-4000-8000-000000000012: line 1201: QUAL is not a number in the range of double precision'],
          format('VP040: QUAL %L', q))
  FROM unnest(ARRAY['1e309', '1e-308', 'x', '1.2.3', '_', '1e-99999', '0e-16384', 'nanx']) AS q;
SELECT is(pg_temp.blk(12, ARRAY['chr1 1 . A G 1e308 PASS .', 'chr1 2 . A G -1E-307 PASS .',
                                'chr1 3 . A G +Infinity PASS .', 'chr1 4 . A G -inf PASS .', 'chr1 5 . A G 0e-16383 PASS .'],
                      0, 1200), '5/5/0', 'QUAL at the limits of double precision, infinities and zero are accepted');
SELECT is(pg_temp.err(format('SELECT pg_temp.blk(13, %L, 0, 1300)',
          ARRAY['chr1 1 . A G 1 PASS .', 'chr1 x . A G 1 PASS .', 'chr1 1 . A G 1 PASS . x'])),
          ARRAY['VP040', 'session 00000000-0000-4000-8000-000000000013: line 1302: POS is not a number between 0 and 2147483647',
                NULL, 'Fix the file and load it again; nothing of it was written.'],
          'VP040 names the first malformed line');
SELECT is((SELECT count(*) FROM vcf.records WHERE session_id IN (pg_temp.sid(11), pg_temp.sid(13))), 2::bigint,
          'a rejected block writes nothing (only the accepted block of case 11 is there)');

SELECT * FROM finish();
ROLLBACK;
