"""Image ids are recorded as a count and ranges: a few AVUs however many images (issue 10)."""

import random

from omero_irods import admin_rules, names
from omero_irods.image_ids import MAX_VALUE_CHARS, image_avus, image_ids_in, ranges_of


def test_a_plate_of_100k_contiguous_images_is_two_avus_and_reads_back_exactly():
    ids = list(range(5000, 105000))
    avus = image_avus(reversed(ids))
    assert avus == [(names.AVU_OMERO_IMAGE_COUNT, "100000", ""), (names.AVU_OMERO_IMAGES, "5000-104999", "0")]
    assert image_ids_in([value for attribute, value, _units in avus if attribute == names.AVU_OMERO_IMAGES]) == ids


def test_ids_that_never_touch_are_cut_into_values_the_catalog_can_hold_and_none_is_lost():
    ids = random.Random(7).sample(range(1, 10 ** 9), 20000)
    avus = image_avus(ids)
    values = [value for attribute, value, _units in avus if attribute == names.AVU_OMERO_IMAGES]
    assert all(len(value) <= MAX_VALUE_CHARS for value in values) and len(values) < len(ids) / 100
    assert len(set(avu[:2] for avu in avus)) == len(avus)  # distinct triples: none merged away by the catalog
    assert image_ids_in(values) == sorted(ids)


def test_ranges_and_the_ids_older_versions_wrote_one_per_avu_read_together():
    assert image_ids_in(["1-3,7", "9"], ["12", "2"]) == [1, 2, 3, 7, 9, 12]
    assert ranges_of([9, 3, 1, 2, 7]) == "1-3,7,9"
    assert image_ids_in(["x,5-2,-4,3-", "1-99999999999"]) == []  # not ours: skipped, never expanded


def test_status_shows_the_count_and_ranges_of_a_large_import():
    avus = [(names.AVU_STATE, names.IMPORTED, "")] + image_avus(range(1, 100001)) + [(names.AVU_OMERO_IMAGE, "200000", "")]
    described = admin_rules.describe("/tempZone/records/req-00000001", avus)
    assert described["omero_images"] == "1-100000,200000" and described["omero_image_count"] == 100001
