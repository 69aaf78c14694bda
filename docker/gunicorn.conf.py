"""gunicorn settings of the production web server: ``gunicorn -c docker/gunicorn.conf.py vetting.wsgi``.

The Docker image (docker/Dockerfile) and the README's production section start it with exactly
this command. It is meant to run behind nginx (docker/nginx/vetting.conf.template), which reads
whole requests (headers and bodies) before passing them on and buffers responses: a client
sending its headers at 1 byte/s, or reading a CSV export slowly, ties up an nginx connection
(cheap, event-driven) and never a gunicorn thread. Exposed directly, 3 such clients held all
3 sync workers and a vetter waited 13 s (issue 12); tests/web/test_edge.py measures it.

Before the workers start, ``collectstatic`` runs (the ``on_starting`` hook, about 3 s): the
production settings serve static files with WhiteNoise from a hashed manifest, and without it
every HTML page was a 500 until someone ran the command by hand.

Command-line options and ``GUNICORN_CMD_ARGS`` (e.g. ``--bind 0.0.0.0:8001`` in Docker) override
these values.
"""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

wsgi_app = "vetting.wsgi"
bind = ["127.0.0.1:8001"]  # nginx listens on the public port and proxies here
# 3 processes x 4 threads: the arrangement bench/bench_load.py measures on 2 cores.
worker_class = "gthread"
workers = 3
threads = 4
timeout = 60
graceful_timeout = 30
keepalive = 5
# nginx passes request lines up to 16 kB (large_client_header_buffers): gunicorn must accept
# them too (its own limit answers with an HTML 414), so Django gives the JSON error.
limit_request_line = 0  # no limit here: nginx bounds it
limit_request_field_size = 16384
accesslog = "-"


def on_starting(server):
    """Collect static files (production settings unless DJANGO_SETTINGS_MODULE says otherwise)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE",
                                                                   "vetting.settings.production")}
    subprocess.run([sys.executable, str(REPO / "manage.py"), "collectstatic", "--noinput", "-v", "0"],
                   cwd=REPO, env=env, check=True)
