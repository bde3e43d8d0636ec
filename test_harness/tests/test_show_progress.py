"""tools/show-progress, which the Makefile wraps around the zeroc-ice build: it passes the
build's exit status on, keeps the build's output out of the way while it works, and shows its
end when it fails (so a failed compile is not a silent exit)."""

import os
import subprocess

TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "tools", "show-progress")


def _run(script):
    return subprocess.run([TOOL, "build", "bash", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          encoding="utf-8", timeout=60)


def test_success_reports_done_and_hides_the_build_output():
    done = _run("echo 'gcc -c a.cpp'; echo 'noise'")
    assert done.returncode == 0
    assert done.stdout.startswith("build: done in ") and "noise" not in done.stdout + done.stderr


def test_failure_passes_the_status_on_and_shows_the_end_of_the_output():
    done = _run("for i in $(seq 1 100); do echo line$i; done; echo 'error: Python.h: no such file' >&2; exit 3")
    assert done.returncode == 3
    assert "build failed (exit 3)" in done.stderr and "error: Python.h: no such file" in done.stderr
    assert "line100" in done.stderr and "line1\n" not in done.stderr
