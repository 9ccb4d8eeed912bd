CREATE FUNCTION @extschema@._ingest_warnings()
RETURNS jsonb
LANGUAGE sql VOLATILE
-- The warnings of this ingest, one object per code: count and the first five
-- examples by line. An undefined key counts once per field, not per line.
AS $$
SELECT coalesce(jsonb_agg(jsonb_build_object('code', a.code, 'count', a.n, 'examples', a.examples)
                          ORDER BY a.first_line, a.code), '[]'::jsonb)
  FROM (SELECT w.code, count(*) AS n, min(w.line_no) AS first_line,
               (array_agg(w.message ORDER BY w.line_no, w.message))[1:5] AS examples
          FROM (SELECT x.*, row_number() OVER (
                           PARTITION BY x.code, CASE WHEN x.code = 'undefined_key' THEN x.field END
                           ORDER BY x.line_no, x.message) AS rn
                  FROM pg_temp.vcf_ingest_warnings x) AS w
         WHERE w.code <> 'undefined_key' OR w.rn = 1
         GROUP BY w.code) AS a
$$;

