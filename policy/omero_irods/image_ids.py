"""The OMERO image ids of an import, as a few AVUs whatever their number.

One AVU per image (200,000 AVUs for a 100,000-image plate, on the record and on the import
root) made every later read of a record that long. OMERO allocates the ids of one import
mostly in sequence, so they are kept as ranges: `omero_irods::omero_images` = '101-180,185',
cut into values of at most MAX_VALUE_CHARS (the catalog's AVU values hold 2,700 bytes:
irods/irods scripts/irods/database/icatSysTables.sql, R_META_MAIN meta_attr_value), plus
`omero_irods::omero_image_count`. A contiguous plate is one value; the worst case, ids that
never touch, needs one value per ~250 ids, all written in one atomic metadata call.
"""

from omero_irods import names

MAX_VALUE_CHARS = 2000


def image_avus(image_ids):
    """(attribute, value, units) triples recording `image_ids` (ints): the count, then the
    ranges, each value a run of whole ranges; the units number the values in order."""
    ids = sorted(set(int(image) for image in image_ids))
    values, current = [], []
    for text in _range_texts(ids):
        if current and len(",".join(current + [text])) > MAX_VALUE_CHARS:
            values.append(",".join(current))
            current = []
        current.append(text)
    if current:
        values.append(",".join(current))
    avus = [(names.AVU_OMERO_IMAGE_COUNT, str(len(ids)), "")]
    avus.extend((names.AVU_OMERO_IMAGES, value, str(number)) for number, value in enumerate(values))
    return avus


def _range_texts(ids):
    start = previous = None
    for image in ids:
        if previous is not None and image == previous + 1:
            previous = image
            continue
        if start is not None:
            yield _range_text(start, previous)
        start = previous = image
    if start is not None:
        yield _range_text(start, previous)


def _range_text(first, last):
    return str(first) if first == last else "%d-%d" % (first, last)


#: No import creates more images than this; a range that claims more is no record of ours.
MAX_IDS = 10000000


def image_ids_in(ranges_values, single_values=()):
    """The sorted image ids (ints) of `omero_images` values ('101-180,185') and of the
    one-id-per-AVU values older versions wrote; what is no id (or no plausible range) is
    skipped."""
    ids = set()
    for value in ranges_values:
        for part in value.split(","):
            first, dash, last = part.strip().partition("-")
            if first.isdigit() and (last.isdigit() if dash else True):
                first, last = int(first), int(last or first)
                if 0 <= last - first < MAX_IDS - len(ids):
                    ids.update(range(first, last + 1))
    ids.update(int(value) for value in single_values if value.isdigit())
    return sorted(ids)


def ranges_of(image_ids):
    """'101-180,185' for ids 101..180 and 185 (ints, any order)."""
    return ",".join(_range_texts(sorted(set(image_ids))))
