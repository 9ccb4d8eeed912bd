-- vcf_pg_loader_plpython 0.2.0 -> 0.3.0. Written by hand (extension/released/
-- README.md says how): ALTER EXTENSION vcf_pg_loader_plpython UPDATE TO
-- '0.3.0' runs it in one transaction, as the extension owner (vcfctl db
-- upgrade does, after vcf_pg_loader); tests/python/integration/
-- test_upgrade.py checks that it leaves the objects a fresh install has.
-- Needs vcf_pg_loader 0.4.0 (the genotype columns of vcf.records).
\echo Use "ALTER EXTENSION vcf_pg_loader_plpython UPDATE TO '0.3.0'" to load this file. \quit

-- Issue 11, item 1: the block parser encodes each records row's genotypes
-- into its dense columns (encode_row, the bytes of vcf._genotype_columns)
-- instead of inserting one vcf.calls row per ALT and sample.

CREATE OR REPLACE FUNCTION @extschema@._ingest_block_py(
    p_session_id uuid, p_data text, p_lines_before bigint, p_records_before bigint,
    p_columns integer, p_sample_ids bigint[], p_fields jsonb,
    OUT o_records bigint, OUT o_variants bigint, OUT o_calls bigint)
LANGUAGE plpython3u VOLATILE
AS $$
# The PL/Python engine, twin of vcf._ingest_block (same arguments, same rows,
# same warnings, same VP040 errors; docs/vcf-semantics.md is the contract):
# parses the data lines of one decrypted block in Python and writes
# variants, record_lines and records (with the dense genotype columns,
# encoded here by encode_row exactly as vcf._genotype_columns does) with one
# prepared INSERT ... SELECT FROM unnest(...) each, and its warnings with one
# more.
# One call per block, never per line. Compiled patterns, helpers, plans and
# memos of typed values are kept in SD for the database session.
# Raises VP040 naming the file line of the first malformed data line.
st = SD.get("state")
if st is None:
    import hashlib
    import json
    import re
    import struct
    from decimal import Decimal

    st = {"json": json, "sha256": hashlib.sha256, "fields_text": None, "info_defs": None,
          "memo_size": 0}
    _int = re.compile(r"[-+]?[0-9]{1,18}").fullmatch
    _int32 = re.compile(r"[-+]?[0-9]{1,10}").fullmatch
    _decimal = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]{1,5})?").fullmatch
    _nan = re.compile(r"[-+]?nan", re.I).fullmatch
    _pinf = re.compile(r"\+?inf(inity)?", re.I).fullmatch
    _ninf = re.compile(r"-inf(inity)?", re.I).fullmatch
    _special = re.compile(r"[-+]?(nan|inf|infinity)", re.I).fullmatch
    _plain_qual = re.compile(r"[0-9]{1,15}(\.[0-9]{0,15})?").fullmatch
    _pct_split = re.compile(r"(%[0-9A-Fa-f]{2})").split
    _dumps = json.JSONEncoder(ensure_ascii=False).encode
    _qual_min = Decimal("1e-307")
    _qual_max = Decimal("1e308")

    def is_decimal(e):
        # A decimal literal that numeric, hence jsonb, can hold: at most
        # 16383 digits after the point (1e-16384 is not).
        return (len(e) <= 400 and _decimal(e) is not None
                and Decimal(e).as_tuple().exponent >= -16383)

    def is_pos(p):
        return p.isascii() and p.isdigit() and len(p) <= 10 and int(p) <= 2147483647

    def is_qual(q):
        # vcf._is_qual: '.', nan/inf, or a decimal (numeric can hold) in the
        # range of double precision
        if q == "." or _plain_qual(q) or _special(q):
            return True
        if not is_decimal(q):
            return False
        d = abs(Decimal(q))
        return d == 0 or _qual_min <= d <= _qual_max

    def pct_decode(e):
        # %XX sequences as UTF-8 bytes; a value whose bytes are not valid
        # UTF-8 (or contain NUL) stays as written (vcf._pct_decode)
        if "%" not in e:
            return e
        pieces = _pct_split(e)
        if len(pieces) == 1:
            return e
        out = bytearray()
        for i, piece in enumerate(pieces):
            out += bytes.fromhex(piece[1:]) if i % 2 else piece.encode("utf-8")
        try:
            decoded = out.decode("utf-8")
        except UnicodeDecodeError:
            return e
        return e if "\x00" in decoded else decoded

    def convert(e, typ):
        # One element as written: (JSON text, parses as its Type, the 32-bit
        # integer it is (None for '.') or False). Typing looks at the element
        # as written; decoding applies to what is kept as a string.
        if e == ".":
            return ("null", True, None)
        if typ == "Integer":
            if _int(e):
                i = int(e)
                return (str(i), True, i if -2147483648 <= i <= 2147483647 else False)
            return (_dumps(pct_decode(e)), False, False)
        if typ == "Float":
            if _nan(e):
                return ('"NaN"', True, False)
            if _pinf(e):
                return ('"Infinity"', True, False)
            if _ninf(e):
                return ('"-Infinity"', True, False)
            if is_decimal(e):
                return (str(Decimal(e)), True, False)
            return (_dumps(pct_decode(e)), False, False)
        return (_dumps(pct_decode(e)), True, False)

    def promoted(key, number, typ):
        # the calls column a FORMAT field goes to (vcf._promoted)
        if typ == "Integer" and ((key in ("GQ", "DP") and number == "1")
                                 or (key == "AD" and number == "R")
                                 or (key == "PL" and number == "G")):
            return key.lower()
        return None

    # The dense genotype columns of vcf.records (docs/architecture.md,
    # "Genotype columns"), byte for byte those of vcf._genotype_columns.
    pack = struct.pack
    gt_code = {0: 0, 1: 1, None: 2}
    markers = {1: 255, 2: -32768, 4: -2147483648}
    letters = {1: "B", 2: "h", 4: "i"}

    def width(lo, hi):
        return 1 if lo >= 0 and hi <= 254 else 2 if lo >= -32767 and hi <= 32767 else 4

    def gt_column(gts, phased):
        ploidy = max([len(g) for g in gts if g is not None], default=0)
        if ploidy == 0:
            return None
        if ploidy <= 2:
            return b"\x01" + bytes([
                15 if g is None else
                (gt_code[g[0]] | ((gt_code[g[1]] if len(g) > 1 else 3) << 2) | (16 if p else 0))
                for g, p in zip(gts, phased)])
        out = [b"\x02", pack(">i", ploidy)]
        for g, p in zip(gts, phased):
            if g is None:
                out.append(b"\x03" * ploidy)
            else:
                codes = [gt_code[a] for a in g] + [3] * (ploidy - len(g))
                if p:
                    codes[0] |= 16
                out.append(bytes(codes))
        return b"".join(out)

    def fixed_column(values):
        known = [v for v in values if v is not None]
        if not known:
            return None
        w = width(min(known), max(known))
        m = markers[w]
        return bytes([w]) + pack(">%d%s" % (len(values), letters[w]),
                                 *[m if v is None else v for v in values])

    def list_column(lists):
        known = [x for x in lists if x is not None]
        if not known:
            return None
        n = max(len(x) for x in known)
        elems = [e for x in known for e in x if e is not None]
        w = width(min(elems), max(elems)) if elems else 1
        cw = 1 if n <= 254 else 4
        m = markers[w]
        slots = ">%d%s" % (n, letters[w])
        out = [bytes([w, cw]), pack(">i", n)]
        for x in lists:
            if x is None:
                out.append(b"\xff" if cw == 1 else pack(">i", -1))
                out.append(pack(slots, *([m] * n)))
            else:
                out.append(bytes([len(x)]) if cw == 1 else pack(">i", len(x)))
                out.append(pack(slots, *([m if e is None else e for e in x] + [m] * (n - len(x)))))
        return b"".join(out)

    def encode_row(calls):
        # one records row's (gt, gq, dp, ad, pl, fmt) from its calls, in the
        # file's sample order: (gt, phased, gq, dp, ad, pl, fmt) each
        gt, phased, gq, dp, ad, pl, fmt = zip(*calls)
        return (gt_column(gt, phased), fixed_column(gq), fixed_column(dp),
                list_column(ad), list_column(pl),
                None if fmt.count(None) == len(fmt)
                else "[" + ",".join(["null" if f is None else f for f in fmt]) + "]")

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

    st.update(is_pos=is_pos, is_qual=is_qual, convert=convert, promoted=promoted,
              error=error, dumps=_dumps, encode_row=encode_row,
              # elements that int4in reads as the same 32-bit integers
              int_list=re.compile(r"[0-9]{1,9}(,[0-9]{1,9})*").fullmatch,
              gt_split=re.compile(r"[/|]").split,
              gt_allele=re.compile(r"[0-9]{1,9}").fullmatch)

    ext = "@extschema@"
    # the new alleles into the shared table, in key order (committed apart
    # by a concurrent ingest): vcf._share_variants, as the PL/pgSQL engine
    st["variants"] = plpy.prepare(
        "SELECT " + ext + "._share_variants($1, $2, $3, $4, $5)",
        ["text[]", "integer[]", "text[]", "text[]", "bytea[]"])
    st["record_lines"] = plpy.prepare(
        "INSERT INTO " + ext + ".record_lines (session_id, record_no, line_no, line)"
        " SELECT $1, u.record_no, u.line_no, u.line"
        " FROM unnest($2::bigint[], $3::bigint[], $4::text[]) AS u(record_no, line_no, line)",
        ["uuid", "bigint[]", "bigint[]", "text[]"])
    # site fields go once per record ($6-$12), not once per ALT row: a line
    # with K alleles would send K copies (over the 1 GB array limit near
    # 32767 alleles); only the allele key and the sliced INFO are per ALT
    # the ids of a block's alleles, by index probes whatever the statistics
    # of vcf.variants (vcf._variant_ids), in the order of the variants rows
    st["variant_ids"] = plpy.prepare(
        "SELECT " + ext + "._variant_ids($1, $2, $3) AS ids", ["text[]", "integer[]", "bytea[]"])
    # the genotype columns ($13-$18) are per ALT row, NULL for a file
    # without samples (unnest pads them)
    st["records"] = plpy.prepare(
        "INSERT INTO " + ext + ".records"
        " (session_id, record_no, alt_no, variant_id, id, qual, filter, info, alts,"
        "  gt, gq, dp, ad, pl, fmt)"
        " SELECT $1, u.record_no, u.alt_no, u.variant_id, nullif(s.id, '.'),"
        "        CASE WHEN s.qual <> '.' THEN s.qual::double precision END,"
        "        CASE WHEN s.filter <> '.' THEN string_to_array(s.filter, ';') END,"
        "        u.info::jsonb, string_to_array(s.alts, ','),"
        "        u.gt, u.gq, u.dp, u.ad, u.pl, u.fmt::jsonb"
        " FROM unnest($2::bigint[], $3::smallint[], $4::bigint[], $5::text[],"
        "             $13::bytea[], $14::bytea[], $15::bytea[], $16::bytea[], $17::bytea[],"
        "             $18::text[])"
        "      AS u(record_no, alt_no, variant_id, info, gt, gq, dp, ad, pl, fmt)"
        " JOIN unnest($6::bigint[], $7::text[], $8::integer[], $9::text[], $10::text[],"
        "             $11::text[], $12::text[])"
        "      AS s(record_no, chrom, pos, id, qual, filter, alts) ON s.record_no = u.record_no",
        ["uuid", "bigint[]", "smallint[]", "bigint[]", "text[]",
         "bigint[]", "text[]", "integer[]", "text[]", "text[]", "text[]", "text[]",
         "bytea[]", "bytea[]", "bytea[]", "bytea[]", "bytea[]", "text[]"])
    # prepared on first use: the table exists only while vcf._ingest runs
    st["warnings_sql"] = (
        "INSERT INTO pg_temp.vcf_ingest_warnings (code, line_no, field, message)"
        " SELECT u.code, u.line_no, u.field, u.message"
        " FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[])"
        "      WITH ORDINALITY AS u(code, line_no, field, message, n)"
        " ORDER BY u.n")
    SD["state"] = st

is_pos = st["is_pos"]
is_qual = st["is_qual"]
convert = st["convert"]
encode_row = st["encode_row"]
error = st["error"]
dumps = st["dumps"]
sha256 = st["sha256"]
gt_allele = st["gt_allele"]
gt_split = st["gt_split"]
_int_list = st["int_list"]

# Definitions and memos, per header (all blocks of an ingest share it). A
# memo holds only results that raised no warning, so a hit is exactly what
# the full computation gives; memos are emptied past 10,000 entries: values
# that repeat (GT strings, small integers) are found again at once, and the
# unique ones (most INFO strings) no longer pile up. At 250,000 the backend
# grew from 64 to 80 MiB between a 200,000- and a 2,000,000-record file; at
# 10,000 it stays at 64, as fast (docs/benchmarks.md).
if st["fields_text"] != p_fields or st["info_defs"] is None or st["memo_size"] > 10000:
    if st["fields_text"] != p_fields or st["info_defs"] is None:
        fields = st["json"].loads(p_fields) if p_fields is not None else {}
        st["info_defs"] = fields.get("INFO") or {}
        st["format_defs"] = fields.get("FORMAT") or {}
        st["fields_text"] = p_fields
    for name in ("info_keys", "format_keys", "memo_elem", "memo_info", "memo_info1", "memo_item",
                 "memo_sample", "memo_gt", "memo_plan"):
        st[name] = {}
info_defs = st["info_defs"]
format_defs = st["format_defs"]
info_keys = st["info_keys"]
format_keys = st["format_keys"]
memo_elem = st["memo_elem"]
memo_info = st["memo_info"]
memo_info1 = st["memo_info1"]
memo_item = st["memo_item"]
memo_sample = st["memo_sample"]
memo_gt = st["memo_gt"]
memo_plan = st["memo_plan"]
promoted = st["promoted"]

warn = []   # (line_no, sample, ord, code, field, message)
# memos live in SD for the database session: only short values are kept, so
# that a long line is not held after its ingest
MEMO_MAX = 256


def key_def(kind, key):
    # (JSON key, Number, Type, undefined, promoted column, element memo)
    cache = info_keys if kind == "INFO" else format_keys
    d = cache.get(key)
    if d is None:
        dfn = (info_defs if kind == "INFO" else format_defs).get(key)
        if dfn is None:
            number, typ = "1", "String"
        else:
            number, typ = dfn.get("number") or "1", dfn.get("type") or "String"
        promo = promoted(key, number, typ) if kind == "FORMAT" and dfn is not None else None
        d = (dumps(key), number, typ, dfn is None, promo,
             memo_elem.setdefault(typ, {}))
        cache[key] = d
    return d


def field_values(line_no, sample, ord_, key, raw, number, typ, undefined, k, ploidy,
                 prefix, memo):
    """One INFO item or a sample's FORMAT field: (list of K JSON texts, one
    per ALT row, None where the field has no value; per-ALT integer lists
    for a promoted column or None; whether every element is a 32-bit
    integer). Warnings go to warn."""
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
        cnt = raw.count(",") + 1 if raw != "" else 0
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
    if typ == "Flag":
        if raw is None:
            return ["true"] * k, None, False
        warn.append((line_no, sample, ord_, "bad_value", field,
                     "line %s: %s has a value that is not a valid Flag" % (line_no, label)))
        if number not in ("0", "1") and raw == "":
            return [None] * k, None, False
        return ["true"] * k, None, False
    # Number 1 and 0 keep commas; '' has no elements (as string_to_array)
    if number in ("0", "1"):
        elements = [raw]
    elif raw == "":
        return [None] * k, None, False
    else:
        elements = raw.split(",")
    conv = []
    for e in elements:
        c = memo.get(e)
        if c is None:
            c = convert(e, typ)
            if len(e) <= MEMO_MAX:
                memo[e] = c
        conv.append(c)
    if typ in ("Integer", "Float"):
        for c in conv:
            if not c[1]:
                warn.append((line_no, sample, ord_, "bad_value", field,
                             "line %s: %s has a value that is not a valid %s"
                             % (line_no, label, typ)))
                break
    all_int = typ == "Integer"
    if all_int:
        for c in conv:
            if c[2] is False:
                all_int = False
                break
    if number in ("0", "1"):
        ints = [[conv[0][2]]] * k if all_int and raw != "." else None
        return [conv[0][0]] * k, ints, all_int
    if raw == ".":
        return ["null"] * k, None, all_int
    if expected is None or cnt != expected:
        text = "[" + ",".join([c[0] for c in conv]) + "]"
        ints = [[c[2] for c in conv]] * k if all_int else None
        return [text] * k, ints, all_int
    # sliced per ALT as bcftools norm -m-any: 0-based indexes kept for ALT n
    haploid = number == "G" and expected == k + 1
    texts = []
    int_rows = [] if all_int else None
    for n in range(1, k + 1):
        if number == "A":
            idx = (n - 1,)
        elif number == "R" or haploid:
            idx = (0, n)
        else:
            t = n * (n + 1) // 2
            idx = (0, t, t + n)
        texts.append("[" + ",".join([conv[i][0] for i in idx]) + "]")
        if all_int:
            int_rows.append([conv[i][2] for i in idx])
    return texts, int_rows, all_int


def info_item(line_no, ord_, item, k):
    """An INFO item as per-ALT JSON object members ('"KEY":value' or None)."""
    p = item.find("=")
    if p >= 0:
        key, raw = item[:p], item[p + 1:]
        jkey, number, typ, undefined, _, memo = key_def("INFO", key)
    else:
        key, raw = item, None
        jkey, _, _, undefined, _, memo = key_def("INFO", key)
        number, typ = "0", "Flag"
    texts = field_values(line_no, 0, ord_, key, raw, number, typ, undefined, k, None,
                         "INFO/", memo)[0]
    return [None if t is None else jkey + ":" + t for t in texts]


def gt_rows(gt_raw, k):
    """GT recoded for each ALT n as a tuple (0 ref, 1 ALT n, 0 another ALT,
    None for '.' or an allele that is not a number or beyond K), and whether
    it is phased; bad is True when an allele names no allele."""
    r = memo_gt.get((gt_raw, k))
    if r is None:
        alleles = []
        bad = False
        for a in gt_split(gt_raw):
            if gt_allele(a):
                i = int(a)
                alleles.append(i if i <= k else None)
                bad = bad or i > k
            else:
                alleles.append(None)
                bad = bad or a != "."
        texts = tuple(tuple([None if i is None else 0 if i == 0 else 1 if i == n else 0
                             for i in alleles]) for n in range(1, k + 1))
        r = (texts, "|" in gt_raw, bad)
        if len(gt_raw) <= MEMO_MAX:
            memo_gt[(gt_raw, k)] = r
    return r


def format_plan(fmt_col):
    """The FORMAT column's keys with their definitions, once per distinct
    FORMAT string: (keys, index of the first GT or -1, per key (key, JSON
    key, Number, Type, undefined, promoted column, element memo, kind))."""
    plan = memo_plan.get(fmt_col)
    if plan is None:
        fkeys = fmt_col.split(":") if fmt_col != "" else []
        defs = []
        for key in fkeys:
            if key == "GT":
                defs.append((key, None, None, None, False, None, None, "GT"))
                continue
            jkey, number, typ, undefined, promo, memo = key_def("FORMAT", key)
            if undefined:
                kind = "other"
            elif promo in ("gq", "dp"):
                kind = "int1"
            elif promo is not None:
                kind = "ints"
            elif number in ("0", "1") and typ != "Flag":
                kind = "scalar"
            else:
                kind = "other"
            defs.append((key, jkey, number, typ, undefined, promo, memo, kind))
        promos = [d[5] for d in defs if d[5] is not None]
        dup = len(promos) != len(set(promos))
        if dup:
            # a promoted key given twice: general path, combined as max()
            defs = [d[:7] + ("other",) if d[7] in ("int1", "ints") else d for d in defs]
        plan = (fkeys, fkeys.index("GT") if "GT" in fkeys else -1, defs, dup)
        if len(fmt_col) <= MEMO_MAX:
            memo_plan[fmt_col] = plan
    return plan


def _array_order(values):
    return [(1, 0) if v is None else (0, v) for v in values]


def sample_rows(line_no, s, plan, k, col):
    """One sample column as K calls (gt, phased, gq, dp, ad, pl, fmt), for
    encode_row.
    K = 1 takes fast paths for the usual cases (nothing is sliced or
    checked then); anything unusual goes through field_values."""
    fkeys, gt_at, defs, dup = plan
    parts = col.split(":") if col != "" else []
    np_ = len(parts)
    gt_raw = parts[gt_at] if 0 <= gt_at < np_ else None
    ploidy = len(gt_split(gt_raw)) if gt_raw else None
    promo_vals = {}
    fmt_parts = None
    for j in range(min(np_, len(fkeys))):
        raw = parts[j]
        key, jkey, number, typ, undefined, promo, memo, kind = defs[j]
        if kind == "GT":
            # GT is no typed field: only bad_gt, never undefined or bad_value
            if raw != "" and gt_rows(raw, k)[2]:
                warn.append((line_no, s, j + 1, "bad_gt", "FORMAT/GT",
                             "line %s: sample %s: GT allele is not a number or "
                             "names no allele of the record" % (line_no, s)))
            continue
        if k == 1:
            if kind == "int1":
                c = memo.get(raw)
                if c is None:
                    c = convert(raw, typ)
                    if len(raw) <= MEMO_MAX:
                        memo[raw] = c
                if c[2] is not False:
                    promo_vals[promo] = (c[2],)
                    continue
            elif kind == "ints":
                if raw == ".":
                    promo_vals[promo] = (None,)
                    continue
                if _int_list(raw):
                    promo_vals[promo] = (tuple(map(int, raw.split(","))),)
                    continue
            elif kind == "scalar":
                c = memo.get(raw)
                if c is None:
                    c = convert(raw, typ)
                    if len(raw) <= MEMO_MAX:
                        memo[raw] = c
                if c[1]:
                    if fmt_parts is None:
                        fmt_parts = ([],)
                    fmt_parts[0].append(jkey + ":" + c[0])
                    continue
        mk = (key, raw, k, ploidy)
        fv = memo_item.get(mk)
        if fv is None:
            nw = len(warn)
            fv = field_values(line_no, s, j + 1, key, raw, number, typ, undefined, k, ploidy,
                              "FORMAT/", memo)
            if len(warn) == nw and len(raw) <= MEMO_MAX:
                memo_item[mk] = fv
        texts, int_rows, all_int = fv
        if texts[0] is None:
            continue
        if promo is not None and all_int:
            if dup:
                promo_vals.setdefault(promo, []).append(int_rows)
            elif int_rows is None:
                promo_vals[promo] = (None,) * k
            elif promo in ("gq", "dp"):
                promo_vals[promo] = tuple(r[0] for r in int_rows)
            else:
                promo_vals[promo] = tuple(tuple(r) for r in int_rows)
            continue
        if fmt_parts is None:
            fmt_parts = tuple([] for _ in range(k))
        for n in range(k):
            fmt_parts[n].append(jkey + ":" + texts[n])
    if gt_raw:
        gts, phased, _ = gt_rows(gt_raw, k)
    else:
        gts, phased = (None,) * k, None
    nones = (None,) * k
    if dup:
        # as the PL/pgSQL engine's max(): the largest non-NULL value (arrays
        # compared element by element, NULL elements above any number)
        for promo, cands in promo_vals.items():
            vals = []
            for n in range(k):
                got = [c[n] for c in cands if c is not None]
                if promo in ("gq", "dp"):
                    got = [g[0] for g in got if g[0] is not None]
                    vals.append(max(got) if got else None)
                else:
                    vals.append(tuple(max(got, key=_array_order)) if got else None)
            promo_vals[promo] = vals
    gq = promo_vals.get("gq", nones)
    dp = promo_vals.get("dp", nones)
    ad = promo_vals.get("ad", nones)
    pl = promo_vals.get("pl", nones)
    if fmt_parts is None:
        fmt = nones
    else:
        fmt = ["{" + ",".join(p) + "}" for p in fmt_parts]
    return tuple((gts[n], phased, gq[n], dp[n], ad[n], pl[n], fmt[n]) for n in range(k))


def chrom_too_long(chrom):
    # CHROM is in the btree of vcf.variants: at most 1000 bytes (UTF-8)
    return len(chrom) > 250 and len(chrom.encode("utf-8")) > 1000


def reject(line_no, f):
    # the first failing check of vcf._ingest_block, in its order
    if len(f) != ncols:
        error(session_id, line_no, "wrong number of columns",
              "The line has %s columns; the #CHROM line has %s." % (len(f), ncols))
    if f[0] == "":
        error(session_id, line_no, "empty CHROM")
    if chrom_too_long(f[0]):
        error(session_id, line_no, "CHROM is longer than 1000 bytes")
    if not is_pos(f[1]):
        error(session_id, line_no, "POS is not a number between 0 and 2147483647")
    if f[3] == "" or f[4] == "":
        error(session_id, line_no, "empty REF or ALT")
    if f[4].count(",") >= 32767:
        error(session_id, line_no, "more than 32767 ALT alleles")
    error(session_id, line_no, "QUAL is not a number in the range of double precision")


session_id = p_session_id
sample_ids = p_sample_ids or []
nsamples = len(sample_ids)
ncols = p_columns
v_rows = []   # chrom, pos, ref, alt, allele_key
l_rows = []   # record_no, line_no, line
r_rows = []   # record_no, alt_no, allele_key (then variant_id), info (per ALT)
s_rows = []   # record_no, chrom, pos, id, qual, filter, alts (per record)
c_rows = []   # gt, phased, gq, dp, ad, pl, fmt, by record, ALT, sample
by_sample = []
record_no = p_records_before
line_no = p_lines_before
for line in p_data.split("\n"):
    line_no += 1
    if line == "":
        continue
    f = line.split("\t")
    if len(f) != ncols or f[0] == "" or chrom_too_long(f[0]) or not is_pos(f[1]) \
            or f[3] == "" or f[4] == "" or f[4].count(",") >= 32767 or not is_qual(f[5]):
        reject(line_no, f)
    record_no += 1
    chrom, pos, ref, alts_raw = f[0], int(f[1]), f[3], f[4]
    alts = alts_raw.split(",")
    k = len(alts)
    l_rows.append((record_no, line_no, line))

    info_col = f[7]
    infos = None
    if info_col == ".":
        pass
    elif k == 1:
        members = []
        for ord_, item in enumerate(info_col.split(";"), 1):
            fr = memo_info1.get(item)
            if fr is None:
                if item == "":
                    continue
                nw = len(warn)
                fr = info_item(line_no, ord_, item, 1)[0] or ""
                if len(warn) == nw and len(item) <= MEMO_MAX:
                    memo_info1[item] = fr
            if fr:
                members.append(fr)
        if members:
            infos = ("{" + ",".join(members) + "}",)
    else:
        members = None
        for ord_, item in enumerate(info_col.split(";"), 1):
            if item == "":
                continue
            mk = (item, k)
            fr = memo_info.get(mk)
            if fr is None:
                nw = len(warn)
                fr = info_item(line_no, ord_, item, k)
                if len(warn) == nw and len(item) <= MEMO_MAX:
                    memo_info[mk] = fr
            if members is None:
                members = [[] for _ in range(k)]
            for n in range(k):
                if fr[n] is not None:
                    members[n].append(fr[n])
        if members is not None:
            infos = ["{" + ",".join(m) + "}" if m else None for m in members]

    s_rows.append((record_no, chrom, pos, f[2], f[5], f[6], alts_raw))
    for n in range(k):
        akey = sha256((ref + "\t" + alts[n]).encode("utf-8")).digest()
        v_rows.append((chrom, pos, ref, alts[n], akey))
        r_rows.append((record_no, n + 1, akey, infos[n] if infos is not None else None))

    if nsamples:
        fmt_col = f[8]
        plan = memo_plan.get(fmt_col) or format_plan(fmt_col)
        for s in range(1, nsamples + 1):
            col = f[8 + s]
            mk = (fmt_col, k, col)
            rows = memo_sample.get(mk)
            if rows is None:
                nw = len(warn)
                rows = sample_rows(line_no, s, plan, k, col)
                if len(warn) == nw and len(col) <= MEMO_MAX:
                    memo_sample[mk] = rows
            if k == 1:
                c_rows.append(rows[0])
            else:
                by_sample.append(rows)
        if k > 1:
            for n in range(k):
                for rows in by_sample:
                    c_rows.append(rows[n])
            by_sample.clear()

n_records = record_no - p_records_before
st["memo_size"] = (sum(len(m) for m in memo_elem.values()) + len(memo_info) + len(memo_info1)
                   + len(memo_item)
                   + len(memo_sample) + len(memo_gt))
if warn:
    if "warnings" not in st:
        st["warnings"] = plpy.prepare(st["warnings_sql"],
                                      ["text[]", "bigint[]", "text[]", "text[]"])
    warn.sort(key=lambda w: (w[0], w[1], w[2], w[3]))
    plpy.execute(st["warnings"], [[w[3] for w in warn], [w[0] for w in warn],
                                  [w[4] for w in warn], [w[5] for w in warn]])
o_variants = 0
o_calls = 0
if n_records:
    v_cols = [list(c) for c in zip(*v_rows)]
    plpy.execute(st["variants"], v_cols)
    plpy.execute(st["record_lines"], [session_id] + [list(c) for c in zip(*l_rows)])
    r_cols = [list(c) for c in zip(*r_rows)]
    r_cols[2] = plpy.execute(st["variant_ids"], [v_cols[0], v_cols[1], v_cols[4]])[0]["ids"]
    if c_rows:
        # c_rows are in (record, ALT, sample) order: nsamples per records row
        g_cols = [list(c) for c in zip(*[encode_row(c_rows[i:i + nsamples])
                                         for i in range(0, len(c_rows), nsamples)])]
        o_calls = len(c_rows)
    else:
        g_cols = [None] * 6
    o_variants = plpy.execute(st["records"], [session_id] + r_cols
                              + [list(c) for c in zip(*s_rows)] + g_cols).nrows()
return (n_records, o_variants, o_calls)
$$;

-- CREATE OR REPLACE reset the pinned settings; pin them again.
SELECT @extschema@._pin_settings('vcf_pg_loader_plpython');

SELECT @extschema@._audit('extension_update', 'vcf_pg_loader_plpython', true,
                          '{"from": "0.2.0", "to": "0.3.0"}');
