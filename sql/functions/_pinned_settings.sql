CREATE FUNCTION @extschema@._pinned_settings()
RETURNS TABLE (name text, value text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- Settings any login may change (context 'user') that would make the
-- extension's functions print their internals, whose plans and parameters
-- hold keys and plaintext PHI (debug_print_*, trace_*, error parameters,
-- strict-parameter details, client_min_messages for DEBUG and LOG lines), skip
-- their exception handlers and so their failure audit rows (exit_on_error
-- turns every ERROR into FATAL), or change what their code means
-- (transform_null_equals, bytea_output, PL/pgSQL name resolution and
-- compile errors). vcf._pin_settings fixes them on every routine a caller
-- reaches. The review of every user-settable setting is in docs/security.md.
AS $$
VALUES
    ('debug_print_parse', 'off'),
    ('debug_print_rewritten', 'off'),
    ('debug_print_plan', 'off'),
    ('trace_sort', 'off'),
    ('trace_notify', 'off'),
    ('log_parameter_max_length_on_error', '0'),
    ('client_min_messages', 'notice'),
    ('exit_on_error', 'off'),
    ('transform_null_equals', 'off'),
    ('bytea_output', 'hex'),
    ('plpgsql.print_strict_params', 'off'),
    ('plpgsql.extra_errors', 'none'),
    ('plpgsql.variable_conflict', 'error')
$$;
