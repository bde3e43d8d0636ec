"""The iRODS error table and IrodsError.

Source: irods/irods `lib/core/include/irods/rodsErrorTable.h` and `irods_state_table.h`
(4-3-stable); python-irodsclient `irods/exception.py` carries the same numbers.
"""

import pickle

import pytest

from omero_irods_sandbox import error_codes
from omero_irods_sandbox.error_codes import IrodsError


@pytest.mark.parametrize("name, number", [
    ("CAT_NO_ROWS_FOUND", -808000),
    ("CATALOG_ALREADY_HAS_ITEM_BY_THAT_NAME", -809000),
    ("CAT_UNKNOWN_COLLECTION", -814000),
    ("CAT_INVALID_ARGUMENT", -816000),
    ("CAT_UNKNOWN_FILE", -817000),
    ("CAT_NO_ACCESS_PERMISSION", -818000),
    ("CAT_SUCCESS_BUT_WITH_NO_INFO", -819000),
    ("CAT_COLLECTION_NOT_EMPTY", -821000),
    ("CAT_INVALID_USER", -827000),
    ("CAT_NAME_EXISTS_AS_COLLECTION", -833000),
    ("CAT_NAME_EXISTS_AS_DATAOBJ", -834000),
    ("OVERWRITE_WITHOUT_FORCE_FLAG", -312000),
    ("UNMATCHED_KEY_OR_INDEX", -313000),
    ("USER_FILE_DOES_NOT_EXIST", -310000),
    ("USER_INPUT_PATH_ERR", -317000),
    ("OBJ_PATH_DOES_NOT_EXIST", -358000),
    ("SYS_INTERNAL_NULL_INPUT_ERR", -24000),
    ("SYS_COPY_ALREADY_IN_RESC", -46000),
    ("SYS_RESC_DOES_NOT_EXIST", -78000),
    ("SYS_INVALID_INPUT_PARAM", -130000),
    ("SYS_NOT_ALLOWED", -169000),
    ("RULE_ENGINE_CONTINUE", 5000000),
    ("RULE_ENGINE_SKIP_OPERATION", 5001000),
])
def test_names_and_numbers_match_the_irods_tables(name, number):
    assert error_codes.code(name) == number
    assert error_codes.name(number) == name


def test_error_text_names_code_number_and_problem():
    error = IrodsError("CAT_NO_ACCESS_PERMISSION", "user bob needs own on /tempZone/home/alice")
    assert (error.code, error.name) == (-818000, "CAT_NO_ACCESS_PERMISSION")
    assert str(error) == "CAT_NO_ACCESS_PERMISSION (-818000): user bob needs own on /tempZone/home/alice"


def test_error_from_a_number_with_an_errno_gets_the_base_name():
    # rodsErrorTable.h header: codes are -mmmmnnn with an errno in nnn.
    error = IrodsError(-510002)
    assert error.name == "UNIX_FILE_OPEN_ERR"
    assert error_codes.split_errno(-510002) == (-510000, 2)


def test_unknown_name_is_a_clear_key_error():
    with pytest.raises(KeyError, match="NOT_AN_ERROR"):
        error_codes.code("NOT_AN_ERROR")


def test_errors_survive_pickling_for_subprocess_reports():
    error = pickle.loads(pickle.dumps(IrodsError("SYS_NOT_ALLOWED", "why")))
    assert (error.code, error.message) == (-169000, "why")


def test_table_is_complete_enough_for_the_plugin_module():
    # The PREP's irods_errors module exposes the whole table (prep/irods_errors.py uses names()).
    table = error_codes.names()
    assert len(table) > 650
    assert table["SYS_NO_GOOD_REPLICA"] == -166000
