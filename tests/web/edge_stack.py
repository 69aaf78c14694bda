"""The documented production stack on loopback ports, for tests and benchmarks.

:func:`start_gunicorn` runs the README's production command (``gunicorn -c
docker/gunicorn.conf.py vetting.wsgi``, production settings) on a free port;
:func:`start_nginx` runs Debian's nginx with ``docker/nginx/vetting.conf.template`` (the file
docker/compose.yaml mounts) rendered for a loopback upstream. Both run in their own process
group and are stopped by :func:`stop`.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "docker" / "nginx" / "vetting.conf.template"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def nginx_binary() -> str | None:
    """Debian installs nginx in /usr/sbin, which a non-root PATH may lack."""
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def production_env(*, database_url: str, redis_url: str, var_dir: Path, cache_prefix: str, **extra: str) -> dict:
    """Environment of a production web server on loopback (plain HTTP, so no SSL redirect)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "VETTING_", "GUNICORN_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "vetting.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "VETTING_VAR_DIR": str(var_dir),
        "VETTING_CACHE_KEY_PREFIX": cache_prefix,
        "VETTING_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def _spawn(argv: list[str], env: dict, log: Path) -> subprocess.Popen:
    handle = open(log, "wb")  # closed with the process by stop()
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    proc.log_path, proc.log_handle = log, handle  # type: ignore[attr-defined]
    return proc


def wait_http(proc: subprocess.Popen, port: int, path: str = "/health/", timeout: float = 90.0) -> None:
    """Wait until ``GET path`` on the port answers (any status), or fail with the process log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}:\n{proc.log_path.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
                if sock.recv(12).startswith(b"HTTP/"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"no answer on port {port} after {timeout} s:\n{proc.log_path.read_text()[-3000:]}")


def start_gunicorn(env: dict, port: int, log: Path, *extra_args: str) -> subprocess.Popen:
    """The production command, bound to 127.0.0.1:``port`` (``extra_args`` may override more)."""
    argv = [sys.executable, "-m", "gunicorn", "-c", str(REPO / "docker" / "gunicorn.conf.py"),
            "--bind", f"127.0.0.1:{port}", *extra_args, "vetting.wsgi"]
    return _spawn(argv, env, log)


def render_template(*, port: int, upstream: str, max_body_mb: int = 201) -> str:
    """docker/nginx/vetting.conf.template with its ``${NGINX_*}`` variables filled in (as envsubst)."""
    values = {"NGINX_PORT": str(port), "NGINX_UPSTREAM": upstream, "NGINX_MAX_BODY_MB": str(max_body_mb)}
    text = TEMPLATE.read_text()
    missing = set(re.findall(r"\$\{(\w+)\}", text)) - set(values)
    assert not missing, f"template variables without a value: {missing}"
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], text)


def start_nginx(workdir: Path, port: int, upstream: str) -> subprocess.Popen:
    """nginx in the foreground with the project's server block (an http-level include, as in the
    nginx image's conf.d) and the image's defaults around it; everything it writes is in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "vetting.conf").write_text(render_template(port=port, upstream=upstream))
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must write their temp dirs in workdir
    (workdir / "nginx.conf").write_text(
        f"{user}worker_processes 1;\npid {workdir}/nginx.pid;\nerror_log {workdir}/error.log warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        f"  access_log off;\n  client_body_temp_path {workdir}/client_body;\n"
        f"  proxy_temp_path {workdir}/proxy;\n  fastcgi_temp_path {workdir}/fastcgi;\n"
        f"  uwsgi_temp_path {workdir}/uwsgi;\n  scgi_temp_path {workdir}/scgi;\n"
        f"  include {workdir}/vetting.conf;\n"
        "}\n"
    )
    argv = [nginx_binary(), "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-g", "daemon off;"]
    return _spawn(argv, dict(os.environ), workdir / "nginx.log")


def stop(proc: subprocess.Popen | None, timeout: float = 20) -> None:
    """Stop the process group at once (SIGINT: gunicorn's and nginx's quick shutdown), KILL it if
    it is still there after ``timeout`` seconds."""
    if proc is None:
        return
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    proc.log_handle.close()  # type: ignore[attr-defined]
