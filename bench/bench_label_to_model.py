"""Benchmark: from the 50th new consensus label to a new active model and a rebuilt queue.

The demo as ``make run`` serves it (2,000 simulated candidates, 200 seed labels, the site's
training settings: ``VETTING_TRAINING_PROFILE``, ``VETTING_RETRAIN_EVERY_N_LABELS`` = 50), on a
throwaway PostgreSQL database and the local Redis (database 9, a private key prefix):

1. the first model is trained on the seed labels in this process and made active;
2. a Celery worker starts as ``make run`` starts it (prefork, 2 processes, queues
   default,training,imports, niced/idle-scheduled per ``VETTING_WORKER_NICE``/``_SCHED``);
3. a vetter labels the first 50 candidates of the queue (their simulated truth) through the
   label service, one transaction each, as the site's label POST does;
4. the clock starts when the 50th label commits and stops when a new version is active **and**
   the queue holds entries chosen from it. Nothing else is called: the retrain is requested by
   the label commits themselves (``vetting.reviews.services`` sends the check task by name).

Prints the total and its parts (check + request, waiting for a worker, training, rescoring and
queue). Target (issue 14): under 2 minutes on the 2-core machine. Baseline printed with it: the
old behaviour requested a retrain only from the beat's 5-minute poll, so the same pipeline plus
the wait for the next poll (150 s on average, 300 s at worst) - the poll wait is computed from
the schedule, the pipeline part measured in this run. The machine's load average is printed, as
other engineers' runs share the CPU.

    python bench/bench_label_to_model.py [--quick] [--candidates 2000] [--seed-labels 200]
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, bench_parser, django_database

PY = sys.executable
BEAT_PERIOD_S = 300.0  # the old retrain trigger: CELERY_BEAT_SCHEDULE "retrain-if-due", every 5 minutes


def main() -> int:
    parser = bench_parser(__doc__, quick="500 candidates, 100 seed labels")
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--seed-labels", type=int, default=200)
    parser.add_argument("--new-labels", type=int, default=None, help="default VETTING_RETRAIN_EVERY_N_LABELS")
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    if args.quick:
        args.candidates, args.seed_labels = 500, 100
    session = f"benchl2m{os.getpid()}"
    os.environ["VETTING_TEST_SESSION"] = session
    var_dir = Path(tempfile.mkdtemp(prefix="bench-l2m-"))
    os.environ["VETTING_VAR_DIR"] = str(var_dir)
    with django_database(f"bench_l2m_{os.getpid()}", settings="vetting.settings.test", media=True):
        return run(args, session, var_dir)


def run(args, session: str, var_dir: Path) -> int:
    from django.conf import settings

    from vetting.celery import app
    from vetting.learning.models import ClassifierVersion, QueueEntry, TrainingRun
    from vetting.learning.queue_selectors import queue_next
    from vetting.learning.services import runs
    from vetting.reviews.demo import load_demo
    from vetting.reviews.services import label_create

    n_new = args.new_labels or int(settings.VETTING_RETRAIN_EVERY_N_LABELS)
    t = time.perf_counter()
    load_demo(n=args.candidates, seed=42, labels=args.seed_labels, workers=2)
    print(f"demo: {args.candidates} candidates, {args.seed_labels} seed labels ({time.perf_counter() - t:.0f} s)")
    t = time.perf_counter()
    first_run = runs.training_run_request(trigger="manual")
    assert runs.training_run_execute(run_id=first_run.pk, rescore="sync") == "finished"
    first = ClassifierVersion.objects.get(is_active=True)
    print(f"first model {first.name} active ({time.perf_counter() - t:.0f} s, profile "
          f"{settings.VETTING_TRAINING_PROFILE})", flush=True)
    app.control.purge()  # the seed labels' checks and the first run's message: nothing left to do

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    worker_cmd = [PY, "-m", "celery", "-A", "vetting", "worker", "-Q", "default,training,imports", "-c", "2",
                  "-n", f"{session}@localhost", "--without-heartbeat", "--without-mingle", "--without-gossip",
                  "-l", "INFO"]
    log = open(var_dir / "worker.log", "w")
    worker = subprocess.Popen(worker_cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[f"{session}@localhost"], timeout=1.0):
            if time.monotonic() > deadline or worker.poll() is not None:
                print((var_dir / "worker.log").read_text()[-3000:], file=sys.stderr)
                return 1
        load1 = os.getloadavg()[0]
        vetter = _vetter()
        picked = queue_next(user=vetter, limit=n_new)
        for cand in picked:
            label_create(candidate=cand, vetter=vetter, label_class=cand.simulated_truth, confidence=1.0)
        t0 = time.time()
        print(f"{len(picked)} new consensus labels posted; the clock starts at the last one", flush=True)
        new, queued = None, False
        while time.time() - t0 < args.timeout:
            new = ClassifierVersion.objects.filter(is_active=True).exclude(pk=first.pk).first()
            if new is not None and QueueEntry.objects.filter(classifier_version=new).exists():
                queued = True
                break
            time.sleep(0.25)
        t1 = time.time()
        if not queued:
            print(f"FAIL: no new active model with its queue within {args.timeout:.0f} s")
            for r in TrainingRun.objects.order_by("pk"):
                print(f"  run #{r.pk} {r.state} {r.trigger} {r.message[:150]}")
            return 1
        run = new.training_run
        requested, started, finished = (x.timestamp() for x in (run.created_at, run.started_at, run.finished_at))
        total = t1 - t0
        pipeline = t1 - requested
        print(f"\n== label to model: {args.candidates} candidates, {first.n_labels} -> {new.n_labels} labels, "
              f"load average {load1:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"  check sent on commit + run requested  {requested - t0:7.1f} s  (trigger: {run.trigger})")
        print(f"  waiting for the worker                {started - requested:7.1f} s")
        print(f"  training run (fit, compare, version)  {finished - started:7.1f} s  ({new.name} {new.status}: "
              f"{new.decision_reason[:90]}...)")
        print(f"  rescoring, activation, queue rebuild  {t1 - finished:7.1f} s")
        print(f"  TOTAL 50th label -> active model + queue: {total:.1f} s  (target < 120 s: "
              f"{'PASS' if total < 120 else 'FAIL'})")
        print(f"  baseline, old 5-minute poll: the same pipeline {pipeline:.1f} s + the wait for the next poll "
              f"({BEAT_PERIOD_S / 2:.0f} s mean, {BEAT_PERIOD_S:.0f} s worst) = {pipeline + BEAT_PERIOD_S / 2:.0f} s "
              f"mean, {pipeline + BEAT_PERIOD_S:.0f} s worst")
        return 0
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, 15)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, 9)
        log.close()


def _vetter():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="vetter")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
