CREATE FUNCTION @extschema@._ingest_engine(p_engine text)
RETURNS regproc
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_py regproc := to_regproc('@extschema@._ingest_block_py');
BEGIN
    -- The block parser to use: the PL/Python one when the companion is
    -- installed, unless 'plpgsql' is asked for. Raises VP007 when
    -- 'plpython' is asked for and the companion is not installed, 22023
    -- for an unknown engine name.
    IF p_engine IS NULL OR p_engine = 'auto' THEN
        RETURN coalesce(v_py, '@extschema@._ingest_block'::regproc);
    ELSIF p_engine = 'plpgsql' THEN
        RETURN '@extschema@._ingest_block'::regproc;
    ELSIF p_engine = 'plpython' THEN
        IF v_py IS NULL THEN
            RAISE EXCEPTION 'the plpython engine needs the vcf_pg_loader_plpython extension'
                USING ERRCODE = 'VP007',
                      HINT = 'CREATE EXTENSION vcf_pg_loader_plpython CASCADE, or use engine => ''plpgsql''.';
        END IF;
        RETURN v_py;
    END IF;
    RAISE EXCEPTION 'unknown ingest engine %', p_engine
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Use plpython, plpgsql or auto.';
END
$$;

