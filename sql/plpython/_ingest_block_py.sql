CREATE FUNCTION @extschema@._ingest_block_py(
    p_session_id uuid, p_data text, p_lines_before bigint, p_records_before bigint,
    p_columns integer, p_sample_ids bigint[], p_fields jsonb,
    OUT o_records bigint, OUT o_variants bigint, OUT o_calls bigint)
LANGUAGE plpython3u VOLATILE
AS $$
# The PL/Python engine, twin of vcf._ingest_block (same arguments, same rows,
# same warnings, same VP040 errors; docs/vcf-semantics.md is the contract):
# parses the data lines of one decrypted block in Python and writes
# variants, record_lines, records and calls with one prepared
# INSERT ... SELECT FROM unnest(...) each, and its warnings to
# pg_temp.vcf_ingest_warnings with one more. One call per block, never per
# line. Compiled patterns, helpers and plans are kept in SD for the session.
# Raises VP040 naming the file line of the first malformed data line.
st = SD.get("state")
if st is None:
    import hashlib
    import json
    import re
    from decimal import Decimal

    st = {}
    _int = re.compile(r"[-+]?[0-9]{1,18}").fullmatch
    _int32 = re.compile(r"[-+]?[0-9]{1,10}").fullmatch
    _decimal = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]{1,5})?").fullmatch
    _nan = re.compile(r"[-+]?nan", re.I).fullmatch
    _pinf = re.compile(r"\+?inf(inity)?", re.I).fullmatch
    _ninf = re.compile(r"-inf(inity)?", re.I).fullmatch
    _qual_special = re.compile(r"[-+]?(nan|inf|infinity)", re.I).fullmatch
    _pos = re.compile(r"[0-9]{1,10}").fullmatch
    _gt_allele = re.compile(r"[0-9]{1,9}").fullmatch
    _pct_split = re.compile(r"(%[0-9A-Fa-f]{2})").split
    _gt_split = re.compile(r"[/|]").split
    _dumps = json.JSONEncoder(ensure_ascii=False).encode
    _sha256 = hashlib.sha256
    _qual_min = Decimal("1e-307")
    _qual_max = Decimal("1e308")
    # numeric (and so jsonb) holds at most 16383 digits after the point
    _dscale_max = 16383

    def is_decimal(e):
        # a decimal literal that numeric, hence jsonb, can hold
        return (len(e) <= 400 and _decimal(e) is not None
                and -Decimal(e).as_tuple().exponent <= _dscale_max)

    def is_qual(q):
        if q == "." or _qual_special(q):
            return True
        if len(q) > 400 or _decimal(q) is None:
            return False
        d = abs(Decimal(q))
        return d == 0 or _qual_min <= d <= _qual_max

    def is_int32(e):
        return _int32(e) is not None and -2147483648 <= int(e) <= 2147483647

    def pct_decode(e):
        # %XX sequences as UTF-8 bytes; a value whose bytes are not valid
        # UTF-8 (or contain NUL) stays as written
        if "%" not in e:
            return e
        pieces = _pct_split(e)
        if len(pieces) == 1:
            return e
        out = bytearray()
        for i, piece in enumerate(pieces):
            if i % 2:
                out += bytes.fromhex(piece[1:])
            else:
                out += piece.encode("utf-8")
        try:
            decoded = out.decode("utf-8")
        except UnicodeDecodeError:
            return e
        return e if "\x00" in decoded else decoded

    def element_ok(e, typ):
        # whether an element (as written) parses as its Type; '.' always does
        if e == "." or typ not in ("Integer", "Float"):
            return True
        if typ == "Integer":
            return _int(e) is not None
        return is_decimal(e) or _qual_special(e) is not None

    def json_element(e, typ):
        # one element as JSON text; not parseable: the decoded string
        if e == ".":
            return "null"
        if typ == "Integer":
            if _int(e):
                return str(int(e))
        elif typ == "Float":
            if _nan(e):
                return '"NaN"'
            if _pinf(e):
                return '"Infinity"'
            if _ninf(e):
                return '"-Infinity"'
            if is_decimal(e):
                return str(Decimal(e))
        return _dumps(pct_decode(e))

    def promoted(key, number, typ):
        if typ != "Integer":
            return None
        if key in ("GQ", "DP") and number == "1":
            return key.lower()
        if (key == "AD" and number == "R") or (key == "PL" and number == "G"):
            return key.lower()
        return None

    def split_elements(raw, number):
        # Number 1 and 0 keep commas; '' has no elements (string_to_array)
        if number in ("0", "1"):
            return [raw]
        return raw.split(",") if raw != "" else []

    def keep(n, cnt, number, expected, haploid):
        # 0-based indexes of the elements kept for ALT n (1-based), as
        # bcftools norm -m-any slices Number=A/R/G values
        if number == "A":
            return (n - 1,)
        if number == "R" or haploid:
            return (0, n)
        t = n * (n + 1) // 2
        return (0, t, t + n)

    def int_array(values):
        return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"

    def error(session_id, line_no, reason, detail=None):
        # VP040 with exactly the PL/pgSQL engine's message. PL/Python writes
        # an uncaught exception as "<module>.<class name>: <value>" (only the
        # class name for module builtins), so plpy.error() would prefix
        # "plpy.Error: "; a plpy.Error subclass named "session <id>" in
        # module builtins makes that "session <id>: line <n>: <reason>".
        # PL/Python takes sqlstate, detail and hint from the attributes.
        cls = type("session %s" % session_id, (plpy.Error,), {"__module__": "builtins"})
        exc = cls("line %s: %s" % (line_no, reason))
        exc.sqlstate = "VP040"
        exc.detail = detail
        exc.hint = "Fix the file and load it again; nothing of it was written."
        raise exc

    st.update(
        is_pos=lambda p: _pos(p) is not None and int(p) <= 2147483647,
        is_qual=is_qual, is_int32=is_int32, element_ok=element_ok,
        json_element=json_element, promoted=promoted, split_elements=split_elements,
        keep=keep, int_array=int_array, error=error, dumps=_dumps, sha256=_sha256,
        gt_allele=_gt_allele, gt_split=_gt_split, json=json)

    ext = "@extschema@"
    st["variants"] = plpy.prepare(
        "INSERT INTO " + ext + ".variants AS v (chrom, pos, ref, alt, allele_key)"
        " SELECT u.chrom, u.pos, u.ref, u.alt, u.allele_key"
        " FROM unnest($1::text[], $2::integer[], $3::text[], $4::text[], $5::bytea[])"
        " AS u(chrom, pos, ref, alt, allele_key)"
        " ORDER BY 1, 2, 5"
        " ON CONFLICT ON CONSTRAINT variants_site_alleles_unique DO NOTHING",
        ["text[]", "integer[]", "text[]", "text[]", "bytea[]"])
    st["record_lines"] = plpy.prepare(
        "INSERT INTO " + ext + ".record_lines (session_id, record_no, line_no, line)"
        " SELECT $1, u.record_no, u.line_no, u.line"
        " FROM unnest($2::bigint[], $3::bigint[], $4::text[]) AS u(record_no, line_no, line)",
        ["uuid", "bigint[]", "bigint[]", "text[]"])
    st["records"] = plpy.prepare(
        "INSERT INTO " + ext + ".records"
        " (session_id, record_no, alt_no, variant_id, id, qual, filter, info, alts)"
        " SELECT $1, u.record_no, u.alt_no, v.variant_id, nullif(u.id, '.'),"
        "        CASE WHEN u.qual <> '.' THEN u.qual::double precision END,"
        "        CASE WHEN u.filter <> '.' THEN string_to_array(u.filter, ';') END,"
        "        u.info::jsonb, string_to_array(u.alts, ',')"
        " FROM unnest($2::bigint[], $3::smallint[], $4::text[], $5::integer[], $6::bytea[],"
        "             $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])"
        "      AS u(record_no, alt_no, chrom, pos, allele_key, id, qual, filter, info, alts)"
        " JOIN " + ext + ".variants v"
        "   ON v.chrom = u.chrom AND v.pos = u.pos AND v.allele_key = u.allele_key",
        ["uuid", "bigint[]", "smallint[]", "text[]", "integer[]", "bytea[]",
         "text[]", "text[]", "text[]", "text[]", "text[]"])
    st["calls"] = plpy.prepare(
        "INSERT INTO " + ext + ".calls"
        " (session_id, record_no, alt_no, sample_id, gt, phased, gq, dp, ad, pl, fmt)"
        " SELECT $1, u.record_no, u.alt_no, u.sample_id, u.gt::smallint[], u.phased,"
        "        u.gq, u.dp, u.ad::integer[], u.pl::integer[], u.fmt::jsonb"
        " FROM unnest($2::bigint[], $3::smallint[], $4::bigint[], $5::text[], $6::boolean[],"
        "             $7::integer[], $8::integer[], $9::text[], $10::text[], $11::text[])"
        "      AS u(record_no, alt_no, sample_id, gt, phased, gq, dp, ad, pl, fmt)",
        ["uuid", "bigint[]", "smallint[]", "bigint[]", "text[]", "boolean[]",
         "integer[]", "integer[]", "text[]", "text[]", "text[]"])
    st["warnings_sql"] = (
        "INSERT INTO pg_temp.vcf_ingest_warnings (code, line_no, field, message)"
        " SELECT u.code, u.line_no, u.field, u.message"
        " FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[])"
        "      WITH ORDINALITY AS u(code, line_no, field, message, n)"
        " ORDER BY u.n")
    st["fields_text"] = None
    SD["state"] = st

is_pos = st["is_pos"]
is_qual = st["is_qual"]
is_int32 = st["is_int32"]
element_ok = st["element_ok"]
json_element = st["json_element"]
split_elements = st["split_elements"]
keep = st["keep"]
int_array = st["int_array"]
error = st["error"]
dumps = st["dumps"]
sha256 = st["sha256"]
gt_allele = st["gt_allele"]
gt_split = st["gt_split"]

# Field definitions: parsed once per header (all blocks of an ingest share it).
if st["fields_text"] != p_fields:
    fields = st["json"].loads(p_fields) if p_fields is not None else {}
    st["info_defs"] = fields.get("INFO") or {}
    st["format_defs"] = fields.get("FORMAT") or {}
    st["fields_text"] = p_fields
    st["info_keys"] = {}
    st["format_keys"] = {}
info_defs = st["info_defs"]
format_defs = st["format_defs"]
info_keys = st["info_keys"]
format_keys = st["format_keys"]
promoted = st["promoted"]


def info_key(key):
    # (JSON key, Number, Type, undefined) of an INFO key with a value
    d = info_keys.get(key)
    if d is None:
        dfn = info_defs.get(key)
        if dfn is None:
            d = (dumps(key), "1", "String", True)
        else:
            d = (dumps(key), dfn.get("number") or "1", dfn.get("type") or "String", False)
        info_keys[key] = d
    return d


def format_key(key):
    # (JSON key, Number, Type, undefined, promoted column) of a FORMAT key
    d = format_keys.get(key)
    if d is None:
        dfn = format_defs.get(key)
        if dfn is None:
            d = (dumps(key), "1", "String", True, None)
        else:
            number = dfn.get("number") or "1"
            typ = dfn.get("type") or "String"
            d = (dumps(key), number, typ, False, promoted(key, number, typ))
        format_keys[key] = d
    return d


session_id = p_session_id
sample_ids = p_sample_ids or []
nsamples = len(sample_ids)
ncols = p_columns

v_chrom, v_pos, v_ref, v_alt, v_key = [], [], [], [], []
l_rec, l_line_no, l_line = [], [], []
r_rec, r_alt, r_chrom, r_pos, r_key = [], [], [], [], []
r_id, r_qual, r_filter, r_info, r_alts = [], [], [], [], []
c_rec, c_alt, c_sid, c_gt, c_phased = [], [], [], [], []
c_gq, c_dp, c_ad, c_pl, c_fmt = [], [], [], [], []
warn = []   # (line_no, sample, ord, code, field, message)


def field_values(line_no, sample, ord_, key, raw, number, typ, undefined, k, ploidy, prefix):
    """Typed values of one INFO item or sample's FORMAT field: a list of K
    JSON texts (one per ALT row; None: the field has no value), the integer
    lists for a promoted column (or None), and whether every element is an
    integer; warnings are appended to warn."""
    field = prefix + key
    label = field if sample == 0 else "sample %s: %s" % (sample, field)
    if undefined:
        warn.append((line_no, sample, ord_, "undefined_key", field,
                     "line %s: %s is not defined in the header; loaded as %s"
                     % (line_no, field, typ)))
    if raw is None:
        cnt = 0
    elif number in ("0", "1"):
        cnt = 1
    else:
        cnt = len(raw.split(",")) if raw != "" else 0
    expected = None
    if k >= 2 and number in ("A", "R", "G") and raw is not None and raw != ".":
        if number == "A":
            expected = k
        elif number == "R":
            expected = k + 1
        elif sample == 0 or ploidy == 2:
            expected = (k + 1) * (k + 2) // 2
        elif ploidy == 1:
            expected = k + 1
        elif ploidy is not None:
            expected = None
            warn.append((line_no, sample, ord_, "ploidy", field,
                         "line %s: sample %s: %s with ploidy %s kept unsliced"
                         % (line_no, sample, field, ploidy)))
        elif cnt == k + 1:
            expected = k + 1
        else:
            expected = (k + 1) * (k + 2) // 2
        if expected is not None and cnt != expected:
            warn.append((line_no, sample, ord_, "count_mismatch", field,
                         "line %s: %s has %s values, Number=%s expects %s"
                         % (line_no, label, cnt, number, expected)))
    sliced = expected is not None and cnt == expected
    if typ == "Flag":
        if raw is None:
            return ["true"] * k, None, False
        warn.append((line_no, sample, ord_, "bad_value", field,
                     "line %s: %s has a value that is not a valid Flag" % (line_no, label)))
        if number not in ("0", "1") and raw == "":
            return [None] * k, None, False
        return ["true"] * k, None, False
    elements = split_elements(raw, number)
    if typ in ("Integer", "Float"):
        for e in elements:
            if not element_ok(e, typ):
                warn.append((line_no, sample, ord_, "bad_value", field,
                             "line %s: %s has a value that is not a valid %s"
                             % (line_no, label, typ)))
                break
    if not elements:
        return [None] * k, None, False
    all_int = True
    for e in elements:
        if e != "." and not is_int32(e):
            all_int = False
            break
    if number in ("0", "1"):
        text = json_element(raw, typ)
        ints = ([None if raw == "." else int(raw)]) if all_int and raw != "." else None
        return [text] * k, ([ints] * k if ints is not None else None), all_int
    if raw == ".":
        return ["null"] * k, None, all_int
    typed = [json_element(e, typ) for e in elements]
    ints = [None if e == "." else int(e) for e in elements] if all_int else None
    if not sliced:
        text = "[" + ",".join(typed) + "]"
        return [text] * k, ([ints] * k if ints is not None else None), all_int
    haploid = number == "G" and expected == k + 1
    texts = []
    int_rows = [] if ints is not None else None
    for n in range(1, k + 1):
        idx = keep(n, cnt, number, expected, haploid)
        texts.append("[" + ",".join(typed[i] for i in idx) + "]")
        if int_rows is not None:
            int_rows.append([ints[i] for i in idx])
    return texts, int_rows, all_int


lines_before = p_lines_before
record_no = p_records_before
n_records = 0
line_no = lines_before
for line in p_data.split("\n"):
    line_no += 1
    if line == "":
        continue
    f = line.split("\t")
    if len(f) != ncols:
        error(session_id, line_no, "wrong number of columns",
              "The line has %s columns; the #CHROM line has %s." % (len(f), ncols))
    if f[0] == "":
        error(session_id, line_no, "empty CHROM")
    if not is_pos(f[1]):
        error(session_id, line_no, "POS is not a number between 0 and 2147483647")
    if f[3] == "" or f[4] == "":
        error(session_id, line_no, "empty REF or ALT")
    if not is_qual(f[5]):
        error(session_id, line_no, "QUAL is not a number in the range of double precision")
    record_no += 1
    n_records += 1

    chrom = f[0]
    pos = int(f[1])
    ref = f[3]
    alts = f[4].split(",")
    k = len(alts)
    keys = []
    for alt in alts:
        akey = sha256((ref + "\t" + alt).encode("utf-8")).digest()
        keys.append(akey)
        v_chrom.append(chrom)
        v_pos.append(pos)
        v_ref.append(ref)
        v_alt.append(alt)
        v_key.append(akey)
    l_rec.append(record_no)
    l_line_no.append(line_no)
    l_line.append(line)

    # INFO: one JSON object per ALT row
    info_col = f[7]
    infos = None
    if info_col != ".":
        parts_by_alt = None
        for ord_, item in enumerate(info_col.split(";"), 1):
            if item == "":
                continue
            p = item.find("=")
            if p >= 0:
                key = item[:p]
                raw = item[p + 1:]
                jkey, number, typ, undefined = info_key(key)
            else:
                key = item
                raw = None
                jkey = info_key(key)[0]
                undefined = key not in info_defs
                number, typ = "0", "Flag"
            texts = field_values(line_no, 0, ord_, key, raw, number, typ, undefined,
                                 k, None, "INFO/")[0]
            if parts_by_alt is None:
                parts_by_alt = [[] for _ in range(k)]
            for n in range(k):
                if texts[n] is not None:
                    parts_by_alt[n].append(jkey + ":" + texts[n])
        if parts_by_alt is not None:
            infos = ["{" + ",".join(pa) + "}" if pa else None for pa in parts_by_alt]
    for n in range(k):
        r_rec.append(record_no)
        r_alt.append(n + 1)
        r_chrom.append(chrom)
        r_pos.append(pos)
        r_key.append(keys[n])
        r_id.append(f[2])
        r_qual.append(f[5])
        r_filter.append(f[6])
        r_info.append(infos[n] if infos is not None else None)
        r_alts.append(f[4])

    if nsamples == 0:
        continue

    # FORMAT and samples: one calls row per ALT and sample
    fmt_col = f[8]
    fkeys = fmt_col.split(":") if fmt_col != "" else []
    gt_at = fkeys.index("GT") if "GT" in fkeys else -1
    for s in range(1, nsamples + 1):
        col = f[8 + s]
        parts = col.split(":") if col != "" else []
        np_ = len(parts)
        gt_raw = parts[gt_at] if 0 <= gt_at < np_ else None
        ploidy = len(gt_split(gt_raw)) if gt_raw else None
        gq = [None] * k
        dp = [None] * k
        ad = [None] * k
        pl = [None] * k
        promo_cols = {"gq": gq, "dp": dp, "ad": ad, "pl": pl}
        fmt_parts = None
        for j in range(min(np_, len(fkeys))):
            key = fkeys[j]
            raw = parts[j]
            if key == "GT":
                if raw != "":
                    for a in gt_split(raw):
                        if a != "." and not (gt_allele(a) and int(a) <= k):
                            warn.append((line_no, s, j + 1, "bad_gt", "FORMAT/GT",
                                         "line %s: sample %s: GT allele is not a number or "
                                         "names no allele of the record" % (line_no, s)))
                            break
                continue
            jkey, number, typ, undefined, promo = format_key(key)
            texts, int_rows, all_int = field_values(
                line_no, s, j + 1, key, raw, number, typ, undefined, k, ploidy, "FORMAT/")
            if texts[0] is None:
                continue
            if promo is not None and all_int:
                # a key given twice: the last occurrence wins, as in fmt
                target = promo_cols[promo]
                for n in range(k):
                    target[n] = int_rows[n] if int_rows is not None else None
                continue
            if fmt_parts is None:
                fmt_parts = [[] for _ in range(k)]
            for n in range(k):
                fmt_parts[n].append(jkey + ":" + texts[n])
        if gt_raw:
            phased = "|" in gt_raw
            alleles = gt_split(gt_raw)
        else:
            phased = None
            alleles = None
        sid = sample_ids[s - 1]
        for n in range(1, k + 1):
            c_rec.append(record_no)
            c_alt.append(n)
            c_sid.append(sid)
            if alleles is not None:
                gt = []
                for a in alleles:
                    if not gt_allele(a):
                        gt.append(None)
                    else:
                        i = int(a)
                        gt.append(0 if i == 0 else None if i > k else 1 if i == n else 0)
                c_gt.append(int_array(gt))
            else:
                c_gt.append(None)
            c_phased.append(phased)
            x = gq[n - 1]
            c_gq.append(x[0] if x is not None else None)
            x = dp[n - 1]
            c_dp.append(x[0] if x is not None else None)
            x = ad[n - 1]
            c_ad.append(int_array(x) if x is not None else None)
            x = pl[n - 1]
            c_pl.append(int_array(x) if x is not None else None)
            c_fmt.append("{" + ",".join(fmt_parts[n - 1]) + "}" if fmt_parts is not None else None)

if warn:
    # prepared on first use: the table exists only while vcf._ingest runs
    if "warnings" not in st:
        st["warnings"] = plpy.prepare(st["warnings_sql"],
                                      ["text[]", "bigint[]", "text[]", "text[]"])
    warn.sort(key=lambda w: (w[0], w[1], w[2], w[3]))
    plpy.execute(st["warnings"], [[w[3] for w in warn], [w[0] for w in warn],
                                  [w[4] for w in warn], [w[5] for w in warn]])
o_variants = 0
o_calls = 0
if n_records:
    plpy.execute(st["variants"], [v_chrom, v_pos, v_ref, v_alt, v_key])
    plpy.execute(st["record_lines"], [session_id, l_rec, l_line_no, l_line])
    o_variants = plpy.execute(st["records"], [session_id, r_rec, r_alt, r_chrom, r_pos, r_key,
                                               r_id, r_qual, r_filter, r_info, r_alts]).nrows()
    if c_rec:
        o_calls = plpy.execute(st["calls"], [session_id, c_rec, c_alt, c_sid, c_gt, c_phased,
                                             c_gq, c_dp, c_ad, c_pl, c_fmt]).nrows()
return (n_records, o_variants, o_calls)
$$;
