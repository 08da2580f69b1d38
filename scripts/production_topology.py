"""The production topology on one machine, without Docker: Debian's Caddy (TLS) in front of gunicorn with
production settings, Postgres, Redis, a Celery worker, one Celery beat, and the simulator as the provider.

`python scripts/production_topology.py` starts it in a fresh database and keeps it up until Ctrl-C;
tests/deploy/test_production.py starts it and checks it from outside (`make production-check`).
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[1]
CADDY = shutil.which("caddy") or "/usr/bin/caddy"
SERVER_URL = os.environ.get("PRODUCTION_CHECK_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("PRODUCTION_CHECK_REDIS", "redis://127.0.0.1:6379")
PROVIDER_KEY = "production-check-provider-key"

CADDYFILE = """{{
	admin off
	auto_https disable_redirects
	skip_install_trust
	storage file_system {storage}
	http_port {http_port}
	https_port {https_port}
	servers {{
		max_header_size 64KiB
	}}
}}

localhost:{https_port} {{
	tls internal
	reverse_proxy 127.0.0.1:{web_port}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Topology:
    url: str  # https, through Caddy
    ca_file: Path  # Caddy's local CA: verify the proxy's certificate with it
    database_url: str
    api_key: str
    customer: str
    password: str
    env: dict[str, str]
    log_dir: Path  # each process's output, NAME.log
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def manage(self, *args: str) -> str:
        """A management command against this deployment's database; its output."""
        run = subprocess.run(  # noqa: S603 - our own manage.py, arguments from this script
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, check=False
        )
        if run.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{run.stdout}\n{run.stderr}")
        return run.stdout

    def sql(self, query: str, *params: object) -> list[tuple[object, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            return conn.execute(query, params).fetchall()


def _wait_for(url: str, *, verify: bool | str = True, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2, verify=verify).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")


def _start(topology: Topology, name: str, command: list[str], log_dir: Path) -> None:
    log = (log_dir / f"{name}.log").open("wb")
    topology.processes[name] = subprocess.Popen(  # noqa: S603 - fixed commands of this script
        command, cwd=ROOT, env=topology.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes.values():
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def production_topology(*, log_dir: Path | None = None) -> Iterator[Topology]:
    """Start everything in a fresh database and Redis db; stop it all and drop the database afterwards."""
    work = Path(tempfile.mkdtemp(prefix="production-check-"))
    log_dir = log_dir or work
    log_dir.mkdir(parents=True, exist_ok=True)
    database = f"production_check_{secrets.token_hex(4)}"
    server = urlsplit(SERVER_URL)
    database_url = server._replace(path=f"/{database}").geturl()
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    web_port, https_port, http_port, provider_port = free_port(), free_port(), free_port(), free_port()
    url = f"https://localhost:{https_port}"
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PYTEST"))},
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        # localhost through Caddy; 127.0.0.1 for the health check that asks gunicorn directly.
        "ALLOWED_HOSTS": "localhost,127.0.0.1",
        "CSRF_TRUSTED_ORIGINS": url,
        "DATABASE_URL": database_url,
        "REDIS_URL": f"{REDIS}/7",
        "CELERY_BROKER_URL": f"{REDIS}/6",
        # Nothing is mailed in the check; the address only has to be a real mail server's form.
        "EMAIL_URL": "smtp://127.0.0.1:25",
        "TRUSTED_PROXY_COUNT": "1",
        "LOG_LEVEL": "WARNING",
        "HOME": str(work),
        "XDG_DATA_HOME": str(work / "data"),
        "XDG_CONFIG_HOME": str(work / "config"),
    }
    topology = Topology(url=url, ca_file=work / "caddy" / "pki" / "authorities" / "local" / "root.crt",
                        database_url=database_url, api_key="", customer="bob", password=secrets.token_urlsafe(16),
                        env=env, log_dir=log_dir)  # fmt: skip
    try:
        for db in (6, 7):
            subprocess.run(["redis-cli", "-u", f"{REDIS}/{db}", "FLUSHDB"], check=True, capture_output=True)  # noqa: S603,S607
        topology.manage("migrate", "--noinput")
        topology.manage("collectstatic", "--noinput")
        _start(topology, "provider", [sys.executable, "-m", "upstream.simulator", "--host", "127.0.0.1",
                                      "--port", str(provider_port), "--key", PROVIDER_KEY], log_dir)  # fmt: skip
        _wait_for(f"http://127.0.0.1:{provider_port}/api/v2?key={PROVIDER_KEY}&action=balance")
        topology.manage("add_provider", "Simulator", f"http://127.0.0.1:{provider_port}/api/v2", PROVIDER_KEY)
        topology.manage("sync_catalog")
        topology.manage("create_customer", "bob", "--email", "bob@example.com", f"--password={topology.password}")
        topology.manage("credit", "bob", "100")
        topology.api_key = topology.manage("create_api_key", "bob").strip().splitlines()[-1]
        _start(topology, "web", [sys.executable, "-m", "gunicorn", "panel.wsgi:application",
                                 "--bind", f"127.0.0.1:{web_port}", "--workers", "2"], log_dir)  # fmt: skip
        _start(topology, "worker", [sys.executable, "-m", "celery", "-A", "panel", "worker", "--loglevel", "INFO",
                                    "--concurrency", "3", "--without-gossip", "--without-mingle"], log_dir)  # fmt: skip
        _start(topology, "beat", [sys.executable, "-m", "celery", "-A", "panel", "beat", "--loglevel", "INFO",
                                  "--schedule", str(work / "celerybeat-schedule")], log_dir)  # fmt: skip
        _wait_for(f"http://127.0.0.1:{web_port}/healthz/ready")
        caddyfile = work / "Caddyfile"
        caddyfile.write_text(CADDYFILE.format(storage=work / "caddy", http_port=http_port, https_port=https_port,
                                              web_port=web_port))  # fmt: skip
        _start(topology, "caddy", [CADDY, "run", "--config", str(caddyfile), "--adapter", "caddyfile"], log_dir)
        deadline = time.monotonic() + 30
        while not topology.ca_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        _wait_for(f"{url}/healthz/ready", verify=str(topology.ca_file))
        yield topology
    finally:
        _stop(topology.processes)
        with psycopg.connect(SERVER_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    with production_topology(log_dir=ROOT / "var" / "production-check") as topology:
        print(f"The panel is up at {topology.url} (Caddy's CA: {topology.ca_file}).")
        print(f"Sign in as {topology.customer} / {topology.password}; API key {topology.api_key}.")
        print("Logs are in var/production-check/.")
        print("Ctrl-C stops everything and drops the database.")
        try:
            while all(process.poll() is None for process in topology.processes.values()):
                time.sleep(1)
        except KeyboardInterrupt:
            return 0
        stopped = [name for name, process in topology.processes.items() if process.poll() is not None]
        print(f"Stopped on its own: {', '.join(stopped)} (see the logs).", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
