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


def test_each_worker_process_gets_its_share_of_native_threads():
    """Cores divided by the worker's processes (VETTING_WORKER_THREADS=0), or the setting; the
    OpenMP pool scikit-learn's gradient boosting uses takes it, and so do processes started later."""
    code = (
        "import os, types, subprocess, sys, django\n"
        "django.setup()\n"
        "from unittest import mock\n"
        "from threadpoolctl import threadpool_info\n"
        "from vetting import celery\n"
        "with mock.patch('os.cpu_count', return_value=4):\n"
        "    celery._native_threads_per_process(sender=types.SimpleNamespace(concurrency=2))\n"
        "omp = [i['num_threads'] for i in threadpool_info() if i['user_api'] == 'openmp']\n"
        "child = subprocess.run([sys.executable, '-c', 'import os; print(os.environ[\"OMP_NUM_THREADS\"])'],\n"
        "                       capture_output=True, text=True).stdout.strip()\n"
        "from django.test import override_settings\n"
        "with override_settings(VETTING_WORKER_THREADS=1):\n"
        "    celery._native_threads_per_process(sender=types.SimpleNamespace(concurrency=1))\n"
        "omp1 = [i['num_threads'] for i in threadpool_info() if i['user_api'] == 'openmp']\n"
        "print(omp, child, omp1)\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-2] == "[2] 2 [1]", result.stdout
