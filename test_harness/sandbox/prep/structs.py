"""The machinery behind `irods_types`: C structs as the Python rule engine plugin exposes them.

The plugin wraps iRODS C structs with Boost.Python (irods/irods_rule_engine_plugin_python
`src/types/irods/*.cpp`, `src/types/standard/arrays.cpp`). Three behaviours rules depend on:

- A `char[]` member is a `char_array` object, not a `str`: `str(x.objPath)` gives the text,
  but `x.objPath == '/zone/a'` is False (no `__eq__`: identity) and it has no str methods.
- Members exported with `add_property` are read-only; only those exported with `def_readwrite`
  (e.g. RodsObjStat.objSize, GenQueryInp.maxRows) can be assigned.
- The constructor takes the exported members positionally (`make_init_function`), no keywords.

`fill(obj, **fields)` is the sandbox's way (the server's, in C) to set any member.
"""

import copy


class char_array(object):
    """A fixed-size C char buffer (the plugin's `char_array` / `c_string`).

    Source: irods/irods_rule_engine_plugin_python `src/types/standard/arrays.cpp`
    (`__str__` returns the text up to the first NUL; indexing via array_indexing_suite).
    """

    __slots__ = ("_text", "_size")

    def __init__(self, text="", size=None):
        self._text = text
        self._size = size if size is not None else len(text) + 1

    def __str__(self):
        return self._text

    def __repr__(self):
        return "<irods_types.char_array %r>" % (self._text,)

    def __len__(self):
        return self._size

    def __getitem__(self, index):
        padded = self._text + "\0" * max(0, self._size - len(self._text))
        return padded[index]

    def __iter__(self):
        for index in range(self._size):
            yield self[index]


class c_string(char_array):
    """A NUL-terminated char* (KeyValPair keys and values); sized by its text."""

    __slots__ = ()

    def __init__(self, text=""):
        super().__init__(text, len(text) + 1)

    def __repr__(self):
        return "<irods_types.c_string %r>" % (self._text,)


class c_string_array(object):
    """An indexable view of several c_strings (KeyValPair.key / .value)."""

    __slots__ = ("_items",)

    def __init__(self, texts):
        self._items = [c_string(text) for text in texts]

    def __len__(self):
        return len(self._items)

    def __getitem__(self, index):
        return self._items[index]

    def __iter__(self):
        return iter(self._items)


# Member kinds: how a struct member is stored and exposed.
CHARS = "chars"  # char[size] -> char_array
INT = "int"  # int / rodsLong_t / enum
STRUCT = "struct"  # nested struct by value (default-constructed)
POINTER = "pointer"  # pointer to a struct (None unless the server fills it)


class Member(object):
    __slots__ = ("name", "kind", "size", "factory", "writable", "in_ctor")

    def __init__(self, name, kind, size=None, factory=None, writable=False, in_ctor=True):
        self.name = name
        self.kind = kind
        self.size = size
        self.factory = factory
        self.writable = writable
        self.in_ctor = in_ctor


def chars(name, size, writable=False):
    return Member(name, CHARS, size=size, writable=writable)


def integer(name, writable=False):
    return Member(name, INT, writable=writable)


def struct(name, factory, writable=False):
    return Member(name, STRUCT, factory=factory, writable=writable)


def pointer(name, writable=False):
    return Member(name, POINTER, writable=writable)


class Struct(object):
    """Base of every emulated iRODS struct. Subclasses list their exported `MEMBERS`."""

    MEMBERS = ()
    __slots__ = ("_values",)

    def __init__(self, *args, **kwargs):
        if kwargs:
            # make_init_function ignores keywords in the plugin; being strict avoids a silent
            # no-op that works in the sandbox but not on a server.
            raise TypeError(
                "irods_types.%s() takes positional arguments only (the plugin's constructor ignores "
                "keywords): got %s" % (type(self).__name__, ", ".join(sorted(kwargs)))
            )
        object.__setattr__(self, "_values", {})
        ctor_members = [m for m in self.MEMBERS if m.in_ctor]
        if len(args) > len(ctor_members):
            raise TypeError(
                "irods_types.%s() takes at most %d positional arguments (%d given)"
                % (type(self).__name__, len(ctor_members), len(args))
            )
        for member in self.MEMBERS:
            self._values[member.name] = _default(member)
        for member, value in zip(ctor_members, args):
            if member.kind == POINTER and value is not None:
                # Source: include/irods/private/re/python/types/init_struct.hpp (populate_helper).
                raise RuntimeError(
                    "Pointers may not be reliably set from within the constructor at this time; "
                    "instead, substitute 'None' and assign to the member after construction"
                )
            _store(self, member, value)

    def __getattr__(self, name):
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        raise AttributeError("'%s' object has no attribute '%s'" % (type(self).__name__, name))

    def __setattr__(self, name, value):
        member = _member(type(self), name)
        if member is None:
            raise AttributeError("'%s' object has no attribute '%s'" % (type(self).__name__, name))
        if not member.writable:
            # Boost.Python add_property without a setter: read-only.
            raise AttributeError("can't set attribute '%s' of irods_types.%s" % (name, type(self).__name__))
        _store(self, member, value)

    def __repr__(self):
        shown = ", ".join(
            "%s=%r" % (m.name, str(self._values[m.name]) if m.kind == CHARS else self._values[m.name])
            for m in self.MEMBERS
            if m.kind in (CHARS, INT)
        )
        return "<irods_types.%s %s>" % (type(self).__name__, shown)

    def __deepcopy__(self, memo):
        clone = type(self).__new__(type(self))
        object.__setattr__(clone, "_values", copy.deepcopy(self._values, memo))
        return clone


def _default(member):
    if member.kind == CHARS:
        return char_array("", member.size)
    if member.kind == INT:
        return 0
    if member.kind == STRUCT:
        return member.factory()
    return None


def _member(cls, name):
    for member in cls.MEMBERS:
        if member.name == name:
            return member
    return None


def _store(obj, member, value):
    if member.kind == CHARS:
        text = str(value)
        if len(text.encode("utf-8")) >= member.size:
            raise ValueError(
                "irods_types.%s.%s holds at most %d bytes; got %d"
                % (type(obj).__name__, member.name, member.size - 1, len(text.encode("utf-8")))
            )
        value = char_array(text, member.size)
    elif member.kind == INT:
        value = int(value)
    obj._values[member.name] = value


def fill(obj, **fields):
    """Set members of a struct as the server does in C (ignores read-only-ness); returns obj."""
    for name, value in fields.items():
        member = _member(type(obj), name)
        if member is None:
            raise AttributeError("irods_types.%s has no member %r" % (type(obj).__name__, name))
        _store(obj, member, value)
    return obj
