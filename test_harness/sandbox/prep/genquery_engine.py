"""GenQuery1 over the sandbox catalog: parse 'select ... where ...' as the server does, evaluate
it as the querying user, return rows of strings.

Sources (irods/irods 4.3):
- lib/core/src/rcMisc.cpp fillGenQueryInpFromStrCond / getCondFromString / getSelVal: the
  select list splits on ',', functions sum|min|max|avg|count|order|order_asc|order_desc; the
  where clause splits on ' and ' / ' AND ' outside quotes; each condition is 'COLUMN <rest>';
  an unknown column is an error (column names are case-sensitive).
- plugins/database/src/general_query.cpp: rows are DISTINCT unless NO_DISTINCT; conditions
  allow =, <>, !=, <, >, <=, >=, like, not like, in (...), between, begin_of (the column is a
  string prefix of the value: `col = substr(?, 1, char_length(col))`), parent_of (the column is
  the value or one of its parent collections: addInClauseToWhereForParentOf, an IN list of
  every prefix; server/core/src/specColl.cpp uses it) and '||' alternatives on one column; a non-admin only sees data objects and collections they can
  read (Zone.visible); UPPER_CASE_WHERE compares upper-cased values.
- lib/core/include/irods/rodsGenQuery.h: option bits and column names.
"""

import re

from omero_irods_sandbox.prep.msparam import fail
from omero_irods_sandbox.records import Collection, DataObject

RETURN_TOTAL_ROW_COUNT = 0x020
NO_DISTINCT = 0x040
AUTO_CLOSE = 0x100
UPPER_CASE_WHERE = 0x200

AGGREGATES = ("sum", "min", "max", "avg", "count")
ORDERINGS = ("order", "order_asc", "order_desc")

# column -> (table, getter(row) -> str). Tables: coll, data (one row per replica),
# data_meta, coll_meta, data_access, coll_access, user.
_TIME = "%011d"


def _replica_attr(name):
    return lambda r: r["replica"] and getattr(r["replica"], name)


COLUMNS = {
    "COLL_ID": ("coll", lambda r: str(r["coll"].id)),
    "COLL_NAME": ("coll", lambda r: r["coll"].path),
    "COLL_PARENT_NAME": ("coll", lambda r: r["coll"].parent or ""),
    "COLL_OWNER_NAME": ("coll", lambda r: r["coll"].owner),
    "COLL_OWNER_ZONE": ("coll", lambda r: r["zone"]),
    "COLL_CREATE_TIME": ("coll", lambda r: _TIME % r["coll"].create_time),
    "COLL_MODIFY_TIME": ("coll", lambda r: _TIME % r["coll"].modify_time),
    "COLL_INHERITANCE": ("coll", lambda r: "1" if r["coll"].inherit else "0"),
    "DATA_ID": ("data", lambda r: str(r["data"].id)),
    "DATA_NAME": ("data", lambda r: r["data"].name),
    "DATA_COLL_ID": ("data", lambda r: str(r["coll"].id)),
    "DATA_TYPE_NAME": ("data", lambda r: r["data"].data_type),
    "DATA_OWNER_NAME": ("data", lambda r: r["data"].owner),
    "DATA_OWNER_ZONE": ("data", lambda r: r["zone"]),
    "DATA_CREATE_TIME": ("data", lambda r: _TIME % r["data"].create_time),
    "DATA_MODIFY_TIME": ("data", lambda r: _TIME % r["replica"].modify_time),
    "DATA_REPL_NUM": ("data", lambda r: str(r["replica"].number)),
    "DATA_REPL_STATUS": ("data", lambda r: {"stale": "0", "good": "1", "intermediate": "2"}[r["replica"].status]),
    "DATA_SIZE": ("data", lambda r: str(r["replica"].size)),
    "DATA_CHECKSUM": ("data", lambda r: r["replica"].checksum or ""),
    "DATA_RESC_NAME": ("data", lambda r: r["replica"].resource),
    "DATA_RESC_HIER": ("data", lambda r: r["replica"].resource),
    "DATA_PATH": ("data", lambda r: r["replica"].physical_path),
    "META_DATA_ATTR_NAME": ("data_meta", lambda r: r["avu"].attribute),
    "META_DATA_ATTR_VALUE": ("data_meta", lambda r: r["avu"].value),
    "META_DATA_ATTR_UNITS": ("data_meta", lambda r: r["avu"].units),
    "META_COLL_ATTR_NAME": ("coll_meta", lambda r: r["avu"].attribute),
    "META_COLL_ATTR_VALUE": ("coll_meta", lambda r: r["avu"].value),
    "META_COLL_ATTR_UNITS": ("coll_meta", lambda r: r["avu"].units),
    "DATA_ACCESS_NAME": ("data_access", lambda r: r["access"][1]),
    "DATA_ACCESS_USER_ID": ("data_access", lambda r: str(r["access_user"].id)),
    "COLL_ACCESS_NAME": ("coll_access", lambda r: r["access"][1]),
    "COLL_ACCESS_USER_ID": ("coll_access", lambda r: str(r["access_user"].id)),
    "USER_ID": ("user", lambda r: str(r["user"].id)),
    "USER_NAME": ("user", lambda r: r["user"].name),
    "USER_TYPE": ("user", lambda r: r["user"].type),
    "USER_ZONE": ("user", lambda r: r["zone"]),
    "USER_GROUP_NAME": ("user_group", lambda r: r["group"]),
}


class ParsedQuery(object):
    def __init__(self, selects, conditions):
        self.selects = selects  # [(function or None, column)]
        self.conditions = conditions  # [(column, condition text)]


def parse(select_text, condition_text):
    """msiMakeGenQuery: the select list and the where clause (either may be '')."""
    selects = []
    for item in select_text.split(","):
        item = item.strip()
        match = re.fullmatch(r"(\w+)\s*\(\s*(\w+)\s*\)", item)
        function, column = (match.group(1), match.group(2)) if match else (None, item)
        if function is not None and function.lower() not in AGGREGATES + ORDERINGS:
            fail("INVALID_GENQUERY_AGGREGATE_FUNCTION", "unknown select function %r in %r" % (function, item))
        _check_column(column)
        selects.append((function.lower() if function else None, column))
    conditions = []
    for part in _split_conditions(condition_text.strip()) if condition_text.strip() else []:
        column, _, rest = part.strip().partition(" ")
        if not rest.strip():
            fail("INPUT_ARG_NOT_WELL_FORMED_ERR", "GenQuery condition %r has no operator" % part.strip())
        _check_column(column)
        conditions.append((column, rest.strip()))
    return ParsedQuery(selects, conditions)


def _check_column(column):
    if column not in COLUMNS:
        fail("NO_COLUMN_NAME_FOUND", "GenQuery column %r is unknown (or not emulated by the sandbox: %s)"
             % (column, ", ".join(sorted(COLUMNS))))


def _split_conditions(text):
    """getCondFromString: split at ' and ' / ' AND ' where the left part has balanced quotes."""
    parts, start, position = [], 0, 0
    while True:
        found = [i for i in (text.find(" and ", position), text.find(" AND ", position)) if i >= 0]
        if not found:
            break
        index = min(found)
        if text[start:index].count("'") % 2 == 0:
            parts.append(text[start:index])
            start = index + 5
        position = index + 1
    parts.append(text[start:])
    return parts


def execute(zone, user, query, options=0):
    """All result rows (lists of str) the user may see, distinct and ordered as asked."""
    tables = {COLUMNS[column][0] for _, column in query.selects} | {COLUMNS[c][0] for c, _ in query.conditions}
    upper = bool(options & UPPER_CASE_WHERE)
    decode = decodes_literals(zone)
    predicates = [(COLUMNS[column][1], _predicate(text, upper, decode)) for column, text in query.conditions]
    rows = []
    narrowing = _narrowing(query, upper or decode)
    for record in _records(zone, tables, narrowing):
        # the conditions first: they are cheap, the permission check is not (same rows)
        if all(test(getter(record)) for getter, test in predicates) and _visible(zone, user, record):
            rows.append([COLUMNS[column][1](record) for _, column in query.selects])
    rows = _aggregate(query, rows)
    if not options & NO_DISTINCT:
        rows = [list(row) for row in sorted(set(tuple(row) for row in rows))]
    return _order(query, rows)


def _visible(zone, user, record):
    """A catalog row is shown only if its data object (or collection) is visible to the user."""
    entry = record.get("data") or record.get("coll")
    return entry is None or zone.visible(user, entry.path)


def _narrowing(query, upper):
    """{column: [exact values]} for the conditions an index can answer (`=` or `in` without
    alternatives), and {'COLL_NAME like': prefix} for a subtree (`like 'prefix%'`). The
    conditions are still applied to every row; this only skips rows that cannot match."""
    found = {}
    if upper:
        return found
    for column, text in query.conditions:
        if "||" in text:
            continue
        lowered = text.lower()
        if lowered.startswith("=") and not lowered.startswith("=="):
            values = re.findall(r"^=\s*'([^']*)'\s*$", text)
        elif lowered.startswith("in") and lowered[2:3] in (" ", "("):
            operand = text[2:].strip()
            values = re.findall(r"'([^']*)'", operand) if operand.startswith("(") else []
        elif lowered.startswith("like ") and column == "COLL_NAME":
            prefix = re.findall(r"^like\s*'([^'%_\\]*)%'\s*$", text, re.IGNORECASE)
            if prefix and prefix[0].startswith("/"):
                found["COLL_NAME like"] = prefix[0]
            continue
        else:
            continue
        if values:
            found[column] = values
    return found


def _candidate_entries(zone, narrowing, kind):
    """Collections (kind 'coll') or data objects ('data') that may match, from the catalog's
    indexes (catalog_index.EntryTable), else all of them."""
    wanted = Collection if kind == "coll" else DataObject
    attribute_column = "META_COLL_ATTR_NAME" if kind == "coll" else "META_DATA_ATTR_NAME"
    sets = []
    if "COLL_NAME" in narrowing:
        if kind == "coll":
            sets.append([zone.collection(path) for path in narrowing["COLL_NAME"] if _safe(zone.collection, path)])
        else:
            sets.append([e for path in narrowing["COLL_NAME"] if _safe(zone.collection, path)
                         for e in zone.children(path)])
    if "COLL_PARENT_NAME" in narrowing:
        parents = [path for path in narrowing["COLL_PARENT_NAME"] if _safe(zone.collection, path)]
        collections_below = [e for path in parents for e in zone.children(path) if isinstance(e, Collection)]
        sets.append(collections_below if kind == "coll" else
                    [e for c in collections_below for e in zone.children(c.path)])
    if "COLL_NAME like" in narrowing:
        prefix = narrowing["COLL_NAME like"]
        top = prefix.rstrip("/") if prefix.endswith("/") else prefix.rsplit("/", 1)[0]
        if _safe(zone.collection, top or "/"):
            sets.append([e for e in zone.subtree(top or "/")])
    if attribute_column in narrowing:
        sets.append([e for attribute in narrowing[attribute_column] for e in zone.carrying(attribute)])
    if not sets:
        return zone.collections() if kind == "coll" else zone.data_objects()
    smallest = min(sets, key=len)
    chosen = {id(e): e for e in smallest if isinstance(e, wanted)}
    return sorted(chosen.values(), key=lambda e: e.path)


def _safe(lookup, path):
    """An existing collection at `path` (a malformed path is simply no match)."""
    try:
        return lookup(path) is not None
    except Exception:
        return False


def _records(zone, tables, narrowing=None):
    zone_name = zone.root.strip("/")
    if tables & {"user", "user_group"}:
        if tables - {"user", "user_group"}:
            fail("SYS_NOT_SUPPORTED", "the sandbox's GenQuery does not join USER_* with other columns")
        for principal in zone.users():
            groups = principal.groups if "user_group" in tables else [None]
            for group in groups:
                yield {"user": principal, "group": group, "zone": zone_name}
        return
    wants_data = bool(tables & {"data", "data_meta", "data_access"})
    if wants_data and tables & {"coll_meta", "coll_access"}:
        fail("SYS_NOT_SUPPORTED", "the sandbox's GenQuery does not join data object and collection metadata/ACLs")
    users_by_name = {principal.name: principal for principal in zone.users()}
    if wants_data:
        for data in _candidate_entries(zone, narrowing or {}, "data"):
            base = {"data": data, "coll": zone.collection(data.collection), "zone": zone_name}
            for extra in _expansions(data, tables, "data_meta", "data_access", users_by_name):
                for replica in data.replicas:
                    yield dict(base, replica=replica, **extra)
        return
    for coll in _candidate_entries(zone, narrowing or {}, "coll"):
        for extra in _expansions(coll, tables, "coll_meta", "coll_access", users_by_name):
            yield dict({"coll": coll, "zone": zone_name}, **extra)


def _expansions(entry, tables, meta_table, access_table, users_by_name):
    extras = [{}]
    if meta_table in tables:
        extras = [dict(e, avu=avu) for e in extras for avu in entry.avus]
    if access_table in tables:
        extras = [dict(e, access=item, access_user=users_by_name[item[0]])
                  for e in extras for item in sorted(entry.acl.items()) if item[0] in users_by_name]
    return extras


def _aggregate(query, rows):
    functions = [function for function, _ in query.selects]
    if not any(f in AGGREGATES for f in functions):
        return rows
    groups = {}
    for row in rows:
        key = tuple(value for value, f in zip(row, functions) if f not in AGGREGATES)
        groups.setdefault(key, []).append(row)
    result = []
    for key, members in sorted(groups.items()):
        keys = iter(key)
        result.append([_apply(f, [m[i] for m in members]) if f in AGGREGATES else next(keys)
                       for i, f in enumerate(functions)])
    return result


def _apply(function, values):
    if function == "count":
        return str(len(values))
    numbers = [float(v) for v in values]
    if function == "sum":
        total = sum(numbers)
        return str(int(total)) if total.is_integer() else str(total)
    if function == "avg":
        return str(sum(numbers) / len(numbers))
    chosen = min(values, key=float) if function == "min" else max(values, key=float)
    return chosen


def _order(query, rows):
    for index in reversed(range(len(query.selects))):
        function = query.selects[index][0]
        if function in ORDERINGS:
            rows = sorted(rows, key=lambda row: _sort_key(row[index]), reverse=function == "order_desc")
    return rows


def _sort_key(value):
    return (0, float(value), value) if re.fullmatch(r"-?\d+(\.\d+)?", value) else (1, 0.0, value)


# ---- conditions --------------------------------------------------------------------------
def decodes_literals(zone):
    """iRODS 5.0's GenQuery1 parser (irods/irods lib/genquery1/dsl/lexer.l) decodes `''` to a
    quote and `\\xHH` to the byte 0xHH inside a string literal; 4.3's (lib/core/src/rcMisc.cpp,
    plugins/database/src/general_query.cpp) takes the text between quotes as it is."""
    return getattr(getattr(zone, "server", None), "version", "4.3") >= "5.0"


def _predicate(text, upper, decode=False):
    alternatives = [part.strip() for part in text.split("||")]
    tests = [_single_predicate(part, upper, decode) for part in alternatives]
    return lambda value: any(test(value) for test in tests)


def _single_predicate(text, upper, decode=False):
    lowered = text.lower()
    for operator in ("not like", "like", "begin_of", "parent_of", "between", "in", "<>", "!=", "<=", ">=",
                     "=", "<", ">"):
        if lowered.startswith(operator) and (not operator[0].isalpha() or lowered[len(operator):][:1] in (" ", "(")):
            operand = text[len(operator):].strip()
            return _make_test(operator, operand, upper, text, decode)
    fail("INPUT_ARG_NOT_WELL_FORMED_ERR", "GenQuery condition %r: unknown operator" % text)


def _make_test(operator, operand, upper, text, decode=False):
    norm = (lambda s: s.upper()) if upper else (lambda s: s)
    if operator == "in":
        values = [norm(v) for v in (_decoded_list(operand, text) if decode else _quoted_list(operand, text))]
        return lambda value: norm(value) in values
    quoted = _decoded_values if decode else _quoted_values
    if operator == "between":
        low, high = quoted(operand, text, 2)
        return lambda value: _compare(norm(low), norm(value)) <= 0 <= _compare(norm(high), norm(value))
    (literal,) = quoted(operand, text, 1)
    literal = norm(literal)
    if operator in ("like", "not like"):
        regex = re.compile("".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in literal), re.DOTALL)
        matches = lambda value: regex.fullmatch(norm(value)) is not None  # noqa: E731
        return matches if operator == "like" else (lambda value: not matches(value))
    if operator == "begin_of":  # the column is a non-empty string prefix of the literal
        return lambda value: len(value) > 0 and literal.startswith(norm(value))
    if operator == "parent_of":  # the column is the literal or one of its parent collections
        return lambda value: norm(value) == literal or literal.startswith(norm(value).rstrip("/") + "/")
    comparisons = {"=": lambda c: c == 0, "<>": lambda c: c != 0, "!=": lambda c: c != 0, "<": lambda c: c < 0,
                   ">": lambda c: c > 0, "<=": lambda c: c <= 0, ">=": lambda c: c >= 0}
    check = comparisons[operator]
    if operator in ("=", "<>", "!=") and not _NUMBER.fullmatch(literal):
        # text against text: equal only if identical (a number never equals a non-number)
        equal = operator == "="
        return lambda value: (norm(value) == literal) is equal
    return lambda value: check(_compare(norm(value), literal))


_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _compare(left, right):
    """SQL compares numbers numerically (size, ids, times are numeric columns), text lexically."""
    number = r"-?\d+(\.\d+)?"
    if re.fullmatch(number, left) and re.fullmatch(number, right):
        a, b = float(left), float(right)
    else:
        a, b = left, right
    return (a > b) - (a < b)


def _quoted_values(operand, text, count):
    values = re.findall(r"'([^']*)'", operand)
    if not values and re.fullmatch(r"[\w.+-]+", operand or ""):
        values = [operand]  # an unquoted number
    if len(values) != count:
        fail("INPUT_ARG_NOT_WELL_FORMED_ERR", "GenQuery condition %r needs %d quoted value(s)" % (text, count))
    return values


def _quoted_list(operand, text):
    if not (operand.startswith("(") and operand.endswith(")")):
        fail("INPUT_ARG_NOT_WELL_FORMED_ERR", "GenQuery condition %r: 'in' needs ('a', 'b', ...)" % text)
    return re.findall(r"'((?:[^']|'')*)'", operand[1:-1])


def _decoded_literals(operand, text):
    """(literals, text outside them) as 5.0's lexer reads them: `''` is a quote, `\\xHH` a
    byte (the bytes make UTF-8 text), a missing closing quote a syntax error."""
    literals, outside, position = [], [], 0
    while position < len(operand):
        if operand[position] != "'":
            outside.append(operand[position])
            position += 1
            continue
        raw, position = bytearray(), position + 1
        while True:
            if position >= len(operand):
                fail("INPUT_ARG_NOT_WELL_FORMED_ERR", "GenQuery condition %r: missing closing single quote" % text)
            if operand.startswith("''", position):
                raw += b"'"
                position += 2
            elif re.match(r"\\x[0-9A-Fa-f]{2}", operand[position:position + 4]):
                raw.append(int(operand[position + 2:position + 4], 16))
                position += 4
            elif operand[position] == "'":
                position += 1
                break
            else:
                raw += operand[position].encode("utf-8", "surrogateescape")
                position += 1
        literals.append(raw.decode("utf-8", "surrogateescape"))
    return literals, "".join(outside)


def _decoded_values(operand, text, count):
    values, outside = _decoded_literals(operand, text)
    if not values and re.fullmatch(r"[\w.+-]+", operand or ""):
        values = [operand]  # an unquoted number
    elif count == 2 and outside.strip().lower() != "and" or count == 1 and outside.strip():
        values = []
    if len(values) != count:
        fail("INPUT_ARG_NOT_WELL_FORMED_ERR", "GenQuery condition %r needs %d quoted value(s)" % (text, count))
    return values


def _decoded_list(operand, text):
    if not (operand.startswith("(") and operand.endswith(")")):
        fail("INPUT_ARG_NOT_WELL_FORMED_ERR", "GenQuery condition %r: 'in' needs ('a', 'b', ...)" % text)
    return _decoded_literals(operand[1:-1], text)[0]
