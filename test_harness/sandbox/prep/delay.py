"""The delay queue: what `delayExec` stores and what the delay server runs.

Sources (irods/irods, 4.3):
- server/re/src/nre.systemMS.cpp delayExec/_delayExec: the rule text is copied into a buffer of
  MAX_ACTION_SIZE (MAX_NAME_LEN * 5 = 5440 bytes, server/re/include/irods/reDefines.h) with
  rstrcpy, which TRUNCATES longer text and logs an error (lib/core/src/stringOpr.cpp); the
  INST_NAME hint becomes rei.pluginInstanceName; the whole rei is packed with the rule.
- server/re/src/irods_re_structs.cpp getTaggedValues / fillSubmitConditions: hints are
  `<TAG>value</TAG>`; an unterminated tag is INPUT_ARG_NOT_WELL_FORMED_ERR; ET, EF, PRIORITY,
  PLUSET; the submitting user is rei.uoic.
- lib/core/src/rcMisc.cpp getOffsetTimeStr (PLUSET: number + s|m|h|d|y, fractions only for
  seconds) and getNextRepeatTime (EF).
- server/delay_server/src/irodsDelayServer.cpp run_rule_exec: without EF a rule is deleted after
  one run whether it failed or not ("ruleExec of <id>: <rule> failed." is logged): no retry.
"""

import calendar
import copy
import re
import sys
import threading
import time

from omero_irods_sandbox import error_codes
from omero_irods_sandbox.prep import irods_errors
from omero_irods_sandbox.prep.msparam import MicroserviceFailure

MAX_ACTION_SIZE = 1088 * 5
DEFAULT_PRIORITY = 5

_EF_FORMS = (
    # (pattern on the text after the interval, kind)
    (re.compile(r"^(REPEAT FOR EVER)?$"), "forever"),
    (re.compile(r"^REPEAT UNTIL SUCCESS OR (\d+) TIMES"), "times"),
    (re.compile(r"^REPEAT UNTIL SUCCESS$"), "until_success"),
)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "y": 86400 * 365}


class DelayedRule(object):
    def __init__(self, rule_id, body, recovery, rei, user, exe_time, instance_name, priority, frequency):
        self.id = rule_id
        self.body = body
        self.recovery = recovery
        self.rei = rei
        self.user = user
        self.exe_time = exe_time
        self.instance_name = instance_name
        self.priority = priority
        self.frequency = frequency
        self.times_left = None


class DelayQueue(object):
    def __init__(self, first_id=10000):
        self._rules = []
        self._next_id = first_id

    def submit(self, hints, body, recovery, rei, now, log):
        """Queue a rule; raises MicroserviceFailure with the server's code for bad hints."""
        tags = tagged_values(hints)
        if len(body.encode("utf-8")) >= MAX_ACTION_SIZE:
            log.append("rstrcpy not enough space in destination buffer, source length:[%d], "
                       "destination length:[%d]" % (len(body.encode("utf-8")), MAX_ACTION_SIZE))
            body = body.encode("utf-8")[:MAX_ACTION_SIZE - 1].decode("utf-8", "ignore")
        exe_time = now
        if "ET" in tags:
            exe_time = _absolute_time(tags["ET"][0])
        if "PLUSET" in tags:
            exe_time = now + offset_seconds(tags["PLUSET"][0], log)
        frequency = tags.get("EF", [""])[0].strip()
        rule = DelayedRule(
            rule_id=self._next_id, body=body, recovery=recovery, rei=copy.deepcopy(rei),
            user=str(rei.uoic.userName), exe_time=exe_time,
            instance_name=tags.get("INST_NAME", [str(rei.pluginInstanceName)])[0],
            priority=_priority(tags.get("PRIORITY", [""])[0]), frequency=frequency,
        )
        if frequency:
            _parse_frequency(frequency)  # reject a form the sandbox does not emulate, now
        self._next_id += 1
        self._rules.append(rule)
        return rule.id

    def next_due(self, now, excluding=()):
        """The due rule the delay server takes next (not one an executor already runs)."""
        due = [r for r in self._rules if r.exe_time <= now and r.id not in excluding]
        if not due:
            return None
        return min(due, key=lambda r: (r.priority, r.exe_time, r.id))

    def purge(self):
        """iqdel -a as the rodsadmin: every queued rule is gone; returns how many."""
        count = len(self._rules)
        self._rules[:] = []
        return count

    def finish(self, rule, status, now):
        """Delete the rule, or reschedule it as its EF says (update_entry_for_repeat)."""
        if not rule.frequency:
            self._rules.remove(rule)
            return
        interval, kind, times = _parse_frequency(rule.frequency)
        if kind == "until_success" and status >= 0:
            self._rules.remove(rule)
        elif kind == "times":
            left = (times if rule.times_left is None else rule.times_left) - 1
            rule.times_left = left
            if status >= 0 or left <= 0:
                self._rules.remove(rule)
            else:
                rule.exe_time = now + interval
        else:
            rule.exe_time = now + interval

    def pending(self):
        return [
            {"id": r.id, "rule": r.body, "user": r.user, "exe_time": r.exe_time,
             "instance_name": r.instance_name, "priority": r.priority, "frequency": r.frequency}
            for r in sorted(self._rules, key=lambda r: (r.exe_time, r.id))
        ]


def tagged_values(hints):
    """getTaggedValues: {'TAG': [values]} from '<TAG>value</TAG>...'."""
    result = {}
    stack = []
    position = 0
    while True:
        start = hints.find("<", position)
        if start < 0:
            break
        end = hints.find(">", start)
        if end < 0:
            raise MicroserviceFailure(irods_errors.INPUT_ARG_NOT_WELL_FORMED_ERR,
                                      "unterminated tag in delay hints %r" % hints)
        if hints[start + 1:start + 2] == "/":
            if not stack or hints[start + 2:end] != stack[-1][0]:
                raise MicroserviceFailure(irods_errors.INPUT_ARG_NOT_WELL_FORMED_ERR,
                                          "unterminated tag: [%s]" % (stack[-1][0] if stack else hints[start:end + 1]))
            tag, value_start = stack.pop()
            result.setdefault(tag, []).append(hints[value_start:start])
        else:
            stack.append((hints[start + 1:end], end + 1))
        position = end
    if stack:
        raise MicroserviceFailure(irods_errors.INPUT_ARG_NOT_WELL_FORMED_ERR,
                                  "unterminated tag: [%s]" % stack[-1][0])
    return result


def offset_seconds(text, log):
    """getOffsetTimeStr: '30', '30s', '5m', '2h', '1d', '1y'; fractions only in seconds."""
    stripped = text.lstrip()
    match = re.match(r"[0-9.]*", stripped)
    number = match.group(0)
    unit = stripped[len(number):len(number) + 1]
    reason = ""
    if not number:
        reason = "Empty or invalid number field"
    elif unit not in _UNITS and not unit.isspace():
        reason = "Bad units (need s, h, m, d, or y)"
    multiplier = _UNITS.get(unit, 1)
    if "." in stripped and multiplier > 1:
        reason = "Fractions disallowed unless units are seconds"
    if reason:
        log.append("Incorrect delay interval '%s'.  Reason:  %s." % (stripped, reason))
        raise MicroserviceFailure(irods_errors.INPUT_ARG_NOT_WELL_FORMED_ERR,
                                  "Incorrect delay interval %r: %s" % (stripped, reason))
    whole = re.match(r"\d*", number).group(0)
    return int(whole or 0) * max(1, multiplier)


def _parse_frequency(text):
    """getNextRepeatTime: '<n><unit> [REPEAT FOR EVER | REPEAT UNTIL SUCCESS [OR <k> TIMES]]'."""
    match = re.match(r"^(\d*)([smhdy]?)\s*(.*)$", text)
    interval = int(match.group(1) or 0) * _UNITS[match.group(2)]
    rest = match.group(3)
    for pattern, kind in _EF_FORMS:
        found = pattern.match(rest)
        if found:
            times = int(found.group(1)) if kind == "times" else None
            return interval, kind, times
    raise MicroserviceFailure(
        irods_errors.INPUT_ARG_NOT_WELL_FORMED_ERR,
        "delay hint <EF>%s</EF>: the sandbox emulates only '<interval>', '... REPEAT FOR EVER', "
        "'... REPEAT UNTIL SUCCESS' and '... REPEAT UNTIL SUCCESS OR <n> TIMES'" % text,
    )


def _priority(text):
    try:
        value = int(text)
    except ValueError:
        return DEFAULT_PRIORITY
    return value if 1 <= value <= 9 else DEFAULT_PRIORITY


def _absolute_time(text):
    """checkDateFormat for ET: epoch seconds or YYYY-MM-DD.hh:mm:ss (UTC in the sandbox)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        return calendar.timegm(time.strptime(text, "%Y-%m-%d.%H:%M:%S"))
    except ValueError:
        raise MicroserviceFailure(error_codes.code("DATE_FORMAT_ERR"),
                                  "delay hint <ET>%s</ET> is not epoch seconds or YYYY-MM-DD.hh:mm:ss" % text)


# ---- concurrent executors ----------------------------------------------------------------
#
# irods/irods server/delay_server/src/irodsDelayServer.cpp: the delay server hands due rules
# to a thread pool of `number_of_concurrent_delay_rule_executors` (server_config.json
# advanced_settings, 4 by default); each rule runs in its own agent, so two rules for the same
# request run at the same time and their catalog statements interleave. The sandbox runs
# each executor in a thread but lets only one run at a time: the running one hands a baton to
# the next executor (round robin, so a failure reproduces) at every microservice call and
# between the statements of a catalog operation that is not atomic in the real catalog
# (Zone.between_calls). Each executor has its own agent: its own imported rule modules and
# its own open GenQuery statements.


class ConcurrentDelayServer(object):
    """Run the due rules of `runtime` on `executors` interleaving executors."""

    def __init__(self, runtime, executors, max_executions):
        self.runtime = runtime
        self.executors = [_Executor(number) for number in range(executors)]
        self.max_executions = max_executions
        self.results = []
        self.running = set()
        self.error = None
        self._baton = threading.Condition()
        self._turn = None  # the executor allowed to run; None: the caller's thread
        self._foreign = {}  # modules known not to be the zone's rule modules (never rescanned)

    def run(self):
        zone = self.runtime.zone
        with self.runtime._active():  # one process-wide set-up under every executor's agent
            zone.between_calls_hook = self.switch
            try:
                for executor in self.executors:
                    executor.thread = threading.Thread(target=self._work, args=(executor,),
                                                       name="delay-executor-%d" % executor.number, daemon=True)
                    executor.thread.start()
                with self._baton:
                    self._turn = self.executors[0]
                    self._baton.notify_all()
                    while self._turn is not None:
                        self._baton.wait()
                for executor in self.executors:
                    executor.thread.join()
            finally:
                zone.between_calls_hook = None
        if self.error is not None:
            raise self.error
        return self.results

    # -- an executor -----------------------------------------------------------------------
    def _work(self, me):
        self._wait_for_turn(me)
        try:
            while self.error is None:
                rule = self.runtime.delay_queue.next_due(self.runtime.zone.clock.now(), self.running)
                if rule is None:
                    if not self.running:
                        break
                    self.switch("idle")  # another executor's rule may queue more work
                    continue
                if len(self.results) >= self.max_executions:
                    raise RuntimeError("delay queue did not settle after %d executions; last due rule "
                                       "%s: %r" % (self.max_executions, rule.id, rule.body[:200]))
                self._run_rule(me, rule)
        except BaseException as error:  # the sandbox failed, not a rule: the caller raises it
            self.error = error
        finally:
            me.done = True
            self._hand_over(me)

    def _run_rule(self, me, rule):
        self.running.add(rule.id)
        self._stash()  # a fresh agent imports core afresh
        try:
            self.results.append(self.runtime._execute_delayed(rule))
        finally:
            self.running.discard(rule.id)
        self.switch("rule finished")

    # -- the baton ---------------------------------------------------------------------------
    def switch(self, _point):
        """Let the next executor run until its next switch point (called by the running one)."""
        me = self._current()
        if me is None:
            return
        following = self._next_after(me)
        if following is me:
            return
        me.agent, me.modules = self.runtime.agent, self._stash()
        with self._baton:
            self._turn = following
            self._baton.notify_all()
        self._wait_for_turn(me)

    def _wait_for_turn(self, me):
        with self._baton:
            while self._turn is not me:
                self._baton.wait()
        self._stash()
        sys.modules.update(me.modules)
        if me.agent is not None:
            self.runtime.agent = me.agent

    def _hand_over(self, me):
        me.agent, me.modules = None, {}
        following = self._next_after(me)
        with self._baton:
            self._turn = None if following is me else following
            self._baton.notify_all()

    def _next_after(self, me):
        count = len(self.executors)
        for step in range(1, count + 1):
            candidate = self.executors[(me.number + step) % count]
            if not candidate.done:
                return candidate
        return me

    def _stash(self):
        """Take the zone's rule modules (core and what it imported from /etc/irods) out of
        sys.modules and return them: the executor that runs next imports or restores its own."""
        owned = {}
        for name in sys.modules.keys() - self._foreign.keys():
            module = sys.modules[name]
            if self.runtime.rules._owns(name, module):
                owned[name] = module
            else:
                self._foreign[name] = module
        for name in owned:
            del sys.modules[name]
        return owned

    def _current(self):
        thread = threading.current_thread()
        for executor in self.executors:
            if executor.thread is thread:
                return executor
        return None


class _Executor(object):
    def __init__(self, number):
        self.number = number
        self.thread = None
        self.done = False
        self.agent = None
        self.modules = {}
