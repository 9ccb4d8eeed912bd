CREATE FUNCTION @extschema@._list_bytes(p_values integer[], p_width integer,
                                        p_count_width integer, p_slots integer)
RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- One sample's AD or PL in its row's ad/pl column: the element count
-- (p_count_width bytes: 1, with 255 for a NULL list, or 4, with -1), then
-- p_slots values of p_width bytes, the list's and NULL markers after it, so
-- that sample i is at a fixed offset (docs/architecture.md, "Genotype
-- columns").
AS $$
SELECT CASE WHEN p_count_width = 1
            THEN pg_catalog.set_byte('\x00'::bytea, 0, coalesce(pg_catalog.cardinality(p_values), 255))
            ELSE pg_catalog.int4send(coalesce(pg_catalog.cardinality(p_values), -1)) END
       || coalesce((SELECT pg_catalog.string_agg(@extschema@._fixed_bytes(e.v, p_width), ''::bytea ORDER BY e.o)
                      FROM pg_catalog.unnest(p_values) WITH ORDINALITY AS e(v, o)), ''::bytea)
       || pg_catalog.decode(pg_catalog.repeat(pg_catalog.encode(@extschema@._fixed_bytes(NULL, p_width), 'hex'),
                                              p_slots - coalesce(pg_catalog.cardinality(p_values), 0)), 'hex')
$$;
