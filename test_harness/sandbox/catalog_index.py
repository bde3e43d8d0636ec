"""The catalog's path table with the indexes a database would have.

iRODS' catalog answers "the children of collection X", "the object at path P" and "the
objects carrying attribute A" through indexes (irods/irods `schema/icatSysTables.sql` and
`icatSysInserts.sql`: unique indexes on R_COLL_MAIN(coll_name) and R_DATA_MAIN(coll_id,
data_name, ...), an index on R_META_MAIN(meta_attr_name)). The sandbox keeps the same
look-ups cheap so that what a benchmark measures is the policy, not the emulator: every
write to the table updates the children index, and an entry's AVUs report to the
attribute index (records._Entry).
"""

import collections


def parent_of(path):
    if path == "/":
        return None
    return path.rsplit("/", 1)[0] or "/"


class EntryTable(dict):
    """{path: Collection | DataObject} plus `children(path)`, `subtree(path)` and
    `carrying(attribute)`. Only plain item assignment and deletion change it."""

    def __init__(self):
        super().__init__()
        self._children = collections.defaultdict(set)
        self._by_attribute = collections.defaultdict(collections.Counter)
        self._known_triples = set()  # R_META_MAIN: rows stay when no object uses them

    def __setitem__(self, path, entry):
        if path in self:
            self.__delitem__(path)
        super().__setitem__(path, entry)
        parent = parent_of(path)
        if parent is not None:
            self._children[parent].add(path)
        entry.attach_index(self)

    def __delitem__(self, path):
        entry = self[path]
        super().__delitem__(path)
        parent = parent_of(path)
        if parent is not None:
            self._children[parent].discard(path)
        entry.attach_index(None)

    def pop(self, path, *default):
        if path not in self:
            if default:
                return default[0]
            raise KeyError(path)
        entry = self[path]
        del self[path]
        return entry

    def children(self, path):
        """The entries directly below `path` (unordered)."""
        return [self[child] for child in self._children.get(path, ())]

    def subtree(self, path):
        """The entry at `path` (if any) and every entry below it, sorted by path."""
        found, stack = [], [path]
        while stack:
            current = stack.pop()
            if current in self:
                found.append(self[current])
            stack.extend(self._children.get(current, ()))
        return sorted(found, key=lambda entry: entry.path)

    def carrying(self, attribute):
        """Entries with at least one AVU named `attribute`."""
        return [entry for entry, count in self._by_attribute.get(attribute, {}).items() if count > 0]

    # called by records._Entry when its AVUs change
    def knows_triple(self, avu):
        """Has any object ever carried this (attribute, value, units)?"""
        return avu in self._known_triples

    def avu_added(self, entry, avu):
        self._by_attribute[avu.attribute][entry] += 1
        self._known_triples.add(avu)

    def avu_removed(self, entry, avu):
        counts = self._by_attribute.get(avu.attribute)
        if counts is not None:
            counts[entry] -= 1
            if counts[entry] <= 0:
                del counts[entry]
