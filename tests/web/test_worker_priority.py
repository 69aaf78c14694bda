"""The Celery worker yields the CPU to the web server: niced and, on Linux, SCHED_IDLE."""
import os

import pytest

from tests.conftest import run_python


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux-only")
def test_idle_policy_applies_to_the_thread_and_what_it_starts():
    code = (
        "import os, threading\n"
        "from vetting.celery import set_idle_policy\n"
        "assert not set_idle_policy('normal') and os.sched_getscheduler(0) == os.SCHED_OTHER\n"
        "assert set_idle_policy('idle') and os.sched_getscheduler(0) == os.SCHED_IDLE\n"
        "seen = []\n"
        "t = threading.Thread(target=lambda: seen.append(os.sched_getscheduler(0))); t.start(); t.join()\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    os._exit(0 if os.sched_getscheduler(0) == os.SCHED_IDLE else 1)\n"
        "_, status = os.waitpid(child, 0)\n"
        "print(seen == [os.SCHED_IDLE], os.waitstatus_to_exitcode(status) == 0)\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]
