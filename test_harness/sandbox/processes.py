"""The sandbox reaps the detached importers its rules start, as init does on a server.

The import rule starts the importer through a wrapper shell that exits at once, leaving the
importer's waiter an orphan (adapters/importer_process.py). On a server the orphan is adopted
by init (or the container's tini), which reaps it when it ends. In the sandbox the rules run in
the test process: while a rule runs it is made a child subreaper (prctl(2)
PR_SET_CHILD_SUBREAPER: "orphaned descendants are reparented to the nearest still living
ancestor subreaper"), so the orphans become its children, and once they ended they are reaped
(waitpid(2)) instead of staying zombies.

Only adopted orphans are reaped: a child in a session that is neither the test process' nor
its own (its session leader, the wrapper shell, is gone). A child the test process started
itself (subprocess.Popen, with or without start_new_session) is in one of those two sessions,
so nobody else's exit status is ever taken. What a check rule sees does not change: a zombie
and a reaped process are both not alive (importer_process._is_alive), and the exit status is
the file the waiter wrote before it ended.
"""

import contextlib
import ctypes
import ctypes.util
import os

PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 36, 37  # linux/prctl.h

_depth = 0


@contextlib.contextmanager
def adopting_orphans():
    """While a rule runs: orphaned descendants become this process' children; afterwards, those
    that ended are reaped. Re-entrant; does nothing where prctl is missing (not Linux)."""
    global _depth
    previous = _subreaper() if _depth == 0 else None
    if previous is not None:
        _set_subreaper(1)
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if previous is not None:
            _set_subreaper(previous)
        if _depth == 0:
            reap_adopted()


def reap_adopted():
    """Reap every ended orphan this process adopted; the pids reaped."""
    me = os.getpid()
    own_session = os.getsid(0)
    reaped = []
    for pid in _children(me):
        fields = _stat(pid)
        if fields is None or fields["state"] != "Z":
            continue
        if fields["session"] in (own_session, pid):
            continue  # started by this process: its exit status is its starter's
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                reaped.append(pid)
        except ChildProcessError:
            pass  # reaped meanwhile
    return reaped


def _children(parent):
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    children = []
    for name in names:
        if name.isdigit():
            fields = _stat(int(name))
            if fields is not None and fields["ppid"] == parent:
                children.append(int(name))
    return children


def _stat(pid):
    """state, ppid and session of /proc/PID/stat (fields 3, 4 and 6: proc(5)); None if gone."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return {"state": fields[0], "ppid": int(fields[1]), "session": int(fields[3])}


def _libc():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name, use_errno=True) if name else None
    except OSError:
        return None


def _subreaper():
    """This process' child subreaper flag, or None where it cannot be read."""
    libc = _libc()
    if libc is None or not hasattr(libc, "prctl"):
        return None
    flag = ctypes.c_int(0)
    if libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0) != 0:
        return None
    return flag.value


def _set_subreaper(value):
    _libc().prctl(PR_SET_CHILD_SUBREAPER, int(value), 0, 0, 0)
