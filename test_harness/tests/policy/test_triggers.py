"""Which events start work, and the delayed rule text that carries a path to the rule.

The text becomes the body of `def expressionFcn(rule_args, callback, rei):` and runs as Python
(irods/irods_rule_engine_plugin_python src/main.cpp exec_rule_expression); it travels in a
META_STR_LEN (2700 byte) buffer (irods/irods lib/core/include/irods/ruleExecSubmit.h).
"""

import pytest

from omero_irods import names
from omero_irods.triggers import MAX_DELAYED_RULE_TEXT, delayed_rule_text, opens_for_writing

PATHS = [
    "/tempZone/home/alice/omero/ingest/2026-01-01/run \U0001F9EA.omero-irods.json",  # outside the BMP
    '/tempZone/home/alice/omero/a "quoted" name\\with backslash.omero-irods.json',
    "/tempZone/home/alice/omero/caf\u00e9 \u2028 line separator.omero-irods.json",
    "/tempZone/home/alice/omero/tab\there.omero-irods.json",
]


class Recorder(object):
    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda *args: self.calls.append((name,) + args)


@pytest.mark.parametrize("path", PATHS)
def test_delayed_rule_text_round_trips_any_path(path):
    callback = Recorder()
    source = ("def expressionFcn(rule_args, callback, rei):\n" + delayed_rule_text(names.RULE_IMPORT, path, "1"))
    namespace = {}
    exec(compile(source.replace("\n", "\n "), "<delayed rule>", "exec"), namespace)
    namespace["expressionFcn"]([], callback, None)
    assert callback.calls == [(names.RULE_IMPORT, path, "1")]


def test_a_rule_text_over_the_delay_queue_buffer_is_refused_counting_bytes():
    # 1000 characters of 3 UTF-8 bytes each: under the limit in characters, over it in bytes
    with pytest.raises(ValueError) as refused:
        delayed_rule_text(names.RULE_PROCESS, "/z/" + "\u20ac" * 1000)
    assert "bytes, over the %d" % MAX_DELAYED_RULE_TEXT in str(refused.value)


@pytest.mark.parametrize("flags, writes", [
    (0, False),             # 'r': O_RDONLY (python-irodsclient irods/manager/data_object_manager.py)
    (1 | 64 | 512, True),   # 'w': O_WRONLY | O_CREAT | O_TRUNC
    (1 | 64, True),         # 'a': O_WRONLY | O_CREAT
    (2, True),              # 'r+': O_RDWR
])
def test_only_opens_that_can_write_are_put_events(flags, writes):
    assert opens_for_writing(flags) is writes
