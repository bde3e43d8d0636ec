"""Emulation of the `genquery.py` the Python rule engine plugin ships in /etc/irods.

Public API as in irods/irods_rule_engine_plugin_python `genquery.py` / README (4.3):
`Query(callback, columns, conditions='', output=AS_TUPLE, offset=0, limit=None,
case_sensitive=True, options=0, parser=Parser.GENQUERY1, order_by='')` with iteration,
`first()`, `total_rows()`, `copy(**changes)`, `close()`; `row_iterator(columns, conditions,
row_return, callback)`, `row_generator`, `paged_iterator(columns, conditions, row_return, callback,
N_rows_per_page=256)`; AS_TUPLE (a single column yields bare strings), AS_LIST, AS_DICT.

Like the real module it works through the callback (msiMakeGenQuery, msiExecGenQuery,
msiGetMoreRows), so queries run as the rule's user with the catalog's permissions; no rows is
an empty iteration, not an error. GenQuery2 (Parser.GENQUERY2) calls msi_genquery2_execute,
which the sandbox does not emulate (the call fails with NO_MICROSERVICE_FOUND_ERR).
"""

import itertools
import re
from collections import OrderedDict
from enum import Enum

__all__ = ["Query", "row_iterator", "paged_iterator", "AS_DICT", "AS_LIST", "AS_TUPLE"]

MAX_SQL_ROWS = 256


class Option(object):
    """GenQueryInp option bits (irods/irods lib/core/include/irods/rodsGenQuery.h)."""

    RETURN_TOTAL_ROW_COUNT = 0x020
    NO_DISTINCT = 0x040
    QUOTA_QUERY = 0x080
    AUTO_CLOSE = 0x100
    UPPER_CASE_WHERE = 0x200


class row_return_type(object):
    def __init__(self):
        raise NotImplementedError("row return types are markers, not instantiable")


class AS_DICT(row_return_type):
    pass


class AS_LIST(row_return_type):
    pass


class AS_TUPLE(row_return_type):
    pass


class Parser(Enum):
    GENQUERY1 = 1
    GENQUERY2 = 2


class GenQuery_Options_Spec_Error(RuntimeError):
    pass


class GenQuery_Columns_Type_Error(RuntimeError):
    pass


class GenQuery_Row_Return_Type_Error(RuntimeError):
    pass


_PARAMETERS = ("columns", "conditions", "output", "offset", "limit", "case_sensitive", "options", "parser",
               "order_by")


class Query(object):
    def __init__(self, callback, columns, conditions="", output=AS_TUPLE, offset=0, limit=None,
                 case_sensitive=True, options=0, parser=Parser.GENQUERY1, order_by=""):
        self.callback = callback
        self.columns = _column_list(columns)
        if parser not in (Parser.GENQUERY1, Parser.GENQUERY2):
            raise ValueError("Invalid value for [parser]. Expected Parser.GENQUERY1 or Parser.GENQUERY2.")
        if output not in (AS_TUPLE, AS_LIST, AS_DICT):
            raise GenQuery_Row_Return_Type_Error("output must be AS_TUPLE, AS_LIST or AS_DICT")
        self.conditions = conditions
        self.output = output
        self.offset = offset
        self.limit = limit
        self.case_sensitive = case_sensitive
        self.parser = parser
        self.order_by = order_by
        self.options = (options & ~Option.UPPER_CASE_WHERE) if case_sensitive else (options | Option.UPPER_CASE_WHERE)
        self.conditions_for_exec = conditions
        self.gq2_handle = None
        self.gqi = self.gqo = self.cti = None
        self._total = None

    @property
    def parameters(self):
        return dict((name, getattr(self, name)) for name in _PARAMETERS)

    def copy(self, **changes):
        unknown = [name for name in changes if name not in _PARAMETERS]
        if unknown:
            raise GenQuery_Options_Spec_Error("Incorrect option(s) to Query: " + ", ".join(unknown))
        parameters = self.parameters
        parameters.update(changes)
        return Query(self.callback, **parameters)

    def _execute(self):
        """Run the query on first use (as the real Query does)."""
        if self.parser == Parser.GENQUERY2:
            self._execute_genquery2()
            return
        if self.gqi is not None:
            return
        import irods_types

        if self.options & Option.UPPER_CASE_WHERE:
            self.conditions_for_exec = self.conditions.upper()
        made = self.callback.msiMakeGenQuery(", ".join(self.columns), self.conditions_for_exec,
                                             irods_types.GenQueryInp())
        self.gqi = made["arguments"][2]
        if self.offset > 0:
            self.gqi.rowOffset = self.offset
        else:
            self.options |= Option.RETURN_TOTAL_ROW_COUNT
        if self.limit is not None and self.limit < MAX_SQL_ROWS - 1:
            self.gqi.maxRows = self.limit
        self.gqi.options |= self.options
        self.gqo = self.callback.msiExecGenQuery(self.gqi, irods_types.GenQueryOut())["arguments"][1]
        self.cti = self.gqo.continueInx
        self._total = None

    def _execute_genquery2(self):
        if self.gq2_handle is not None:
            return
        text = "select " + ", ".join(self.columns)
        for keyword, value in (("where", self.conditions), ("order by", self.order_by)):
            if value:
                text += " %s %s" % (keyword, value)
        if self.offset > 0:
            text += " offset %d" % self.offset
        if self.limit is not None:
            text += " limit %d" % self.limit
        self.gq2_handle = self.callback.msi_genquery2_execute("", text)["arguments"][0]

    def total_rows(self):
        """Rows matching the query, ignoring offset and limit (None with GenQuery2)."""
        if self._total is None and self.parser == Parser.GENQUERY1:
            if self.offset == 0 and self.options & Option.RETURN_TOTAL_ROW_COUNT:
                self._execute()
                self._total = self.gqo.totalRowCount
            else:
                counter = Query(self.callback, self.columns, self.conditions, limit=0,
                                options=self.options | Option.RETURN_TOTAL_ROW_COUNT)
                self._total = counter.total_rows()
        return self._total

    def __iter__(self):
        self._execute()
        if self.parser == Parser.GENQUERY2:
            raise RuntimeError("GenQuery2 is not emulated by the sandbox")
        produced = 0
        while True:
            try:
                for index in range(self.gqo.rowCnt):
                    if self.limit is not None and produced >= self.limit:
                        self._close()
                        return
                    row = [self.gqo.sqlResult[c].row(index) for c in range(len(self.columns))]
                    produced += 1
                    yield self._shape(row)
            except GeneratorExit:
                self._close()
                return
            if self.cti <= 0 or (self.limit is not None and produced >= self.limit):
                self._close()
                return
            self._fetch()

    def _shape(self, row):
        if self.output == AS_TUPLE:
            return row[0] if len(self.columns) == 1 else tuple(row)
        if self.output == AS_LIST:
            return row
        return OrderedDict(zip(self.columns, row))

    def _fetch(self):
        fetched = self.callback.msiGetMoreRows(self.gqi, self.gqo, 0)
        self.gqo = fetched["arguments"][1]
        self.cti = fetched["arguments"][2]

    def _close(self):
        if self.parser == Parser.GENQUERY2 or not self.cti:
            return
        while self.cti > 0:
            self.gqi.options |= Option.AUTO_CLOSE
            self._fetch()
        self.gqi = self.gqo = self.cti = None

    def close(self):
        self._close()

    def first(self):
        """The first row, or None."""
        for row in self:
            self._close()
            return row
        return None

    def __str__(self):
        text = "select " + ", ".join(self.columns)
        if self.conditions_for_exec:
            text += " where " + self.conditions_for_exec
        if self.order_by:
            text += " order by " + self.order_by
        if self.limit is not None:
            text += " limit " + str(self.limit)
        if self.offset:
            text += " offset " + str(self.offset)
        return text + " [parser=%s]" % self.parser.name

    def __repr__(self):
        shown = ",\n\t".join("%s=%s" % (name, self.output.__name__ if name == "output" else repr(getattr(self, name)))
                             for name in _PARAMETERS)
        return "Query(\n\t" + shown + "\n)"


def _column_list(columns):
    if isinstance(columns, str):
        return [column.strip() for column in columns.split(",") if re.search(r"\S", column)]
    try:
        return list(columns)
    except TypeError:
        raise GenQuery_Columns_Type_Error("'columns' should be a comma-separated string or sequence")


def row_iterator(columns, conditions, row_return, callback):
    """Since iRODS 4.2.8 a Query (iterate it with `for`)."""
    return Query(callback, columns, conditions, output=row_return)


def row_generator(columns, conditions, row_return, callback):
    """The pre-4.2.8 generator form of row_iterator."""
    return (row for row in row_iterator(columns, conditions, row_return, callback))


class paged_iterator(object):
    """Pages (lists) of up to N rows; N is capped at MAX_SQL_ROWS unless raised later."""

    def __init__(self, columns, conditions, row_return, callback, N_rows_per_page=MAX_SQL_ROWS):
        self.callback = callback
        self.set_rows_per_page(N_rows_per_page, hard_limit_at_default=True)
        self.generator = row_generator(columns, conditions, row_return, callback)

    def set_rows_per_page(self, rows, hard_limit_at_default=False):
        self.rows_per_page = max(1, int(rows))
        if hard_limit_at_default:
            self.rows_per_page = min(self.rows_per_page, MAX_SQL_ROWS)
        return self

    def __iter__(self):
        return self

    def __next__(self):
        return self.next()

    def next(self):
        page = list(itertools.islice(self.generator, self.rows_per_page))
        if not page:
            raise StopIteration
        return page
