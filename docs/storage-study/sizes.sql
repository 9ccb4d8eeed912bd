SELECT c.relname,
       pg_relation_size(c.oid) AS heap,
       pg_total_relation_size(c.oid) - pg_relation_size(c.oid) - pg_indexes_size(c.oid) AS toast,
       pg_indexes_size(c.oid) AS idx,
       pg_total_relation_size(c.oid) AS total,
       c.reltuples::bigint AS tuples
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'exp' AND c.relkind = 'r' AND c.relname LIKE :'ds' || '\_%' AND c.relname NOT LIKE '%\_src' AND c.relname NOT LIKE '%\_agg'
 ORDER BY c.relname;
