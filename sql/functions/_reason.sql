CREATE FUNCTION @extschema@._reason(p_reason text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- A reason given for a PHI reveal or lookup, as it is stored: trimmed of
-- white space and invisible characters at both ends and cut to 500
-- characters; NULL when nothing visible is left (tabs, no-break or
-- zero-width spaces, joiners, direction marks, other format characters and
-- controls only). The class is explicit, not [[:space:]], whose meaning
-- depends on the database's locale.
RETURN nullif(left(regexp_replace(p_reason,
    '^[\s\u0001-\u001f\u007f-\u00a0\u00ad\u034f\u061c\u115f\u1160\u1680\u17b4\u17b5\u180b-\u180f'
    '\u2000-\u200f\u2028-\u202f\u205f-\u206f\u2800\u3000\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb]+'
    '|[\s\u0001-\u001f\u007f-\u00a0\u00ad\u034f\u061c\u115f\u1160\u1680\u17b4\u17b5\u180b-\u180f'
    '\u2000-\u200f\u2028-\u202f\u205f-\u206f\u2800\u3000\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb]+$',
    '', 'g'), 500), '');
