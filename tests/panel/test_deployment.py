"""Docker cannot run here, so the production description is checked by reading it: every command that
docker-compose.yml, the Dockerfile and the Procfile run must name an entry point that exists."""

import importlib
import importlib.util
import json
import re
import shlex
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command, get_commands

ROOT = Path(__file__).resolve().parents[2]


def _problems(argv: list[str]) -> list[str]:
    """What in one command line does not exist in the project."""
    program, *args = argv
    if program == "gunicorn":
        module, _, attribute = next(a for a in args if ":" in a).partition(":")
        if not hasattr(importlib.import_module(module), attribute):
            return [f"{module} has no {attribute}"]
        return []
    if program == "celery":
        app_module, subcommand = args[args.index("-A") + 1], args[args.index("-A") + 2]
        app = importlib.import_module(app_module).celery_app
        problems = [] if app.main == app_module else [f"{app_module} does not define its Celery app"]
        return problems + ([] if subcommand in ("worker", "beat") else [f"celery {subcommand}?"])
    if program == "python" and args[0] == "manage.py":
        return [] if args[1] in get_commands() else [f"no management command {args[1]}"]
    if program == "python" and args[0] == "-m":
        return [] if importlib.util.find_spec(f"{args[1]}.__main__") else [f"{args[1]} is not runnable"]
    return [f"unknown program {program}"]


def test_compose_describes_postgres_redis_web_worker_and_beat():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= services.keys()
    assert services["postgres"]["image"].startswith("postgres:") and services["redis"]["image"].startswith("redis:")
    assert services["web"]["command"][0] == "gunicorn"
    assert services["worker"]["command"][3] == "worker" and services["beat"]["command"][3] == "beat"
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and env["CELERY_BROKER_URL"].startswith("redis://")
        assert env["DEBUG"] == "false"


def test_compose_gives_every_app_service_the_outside_services_production_requires():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in ("migrate", "web", "worker", "beat"):
        assert {"EMAIL_URL", "REDIS_URL", "CELERY_BROKER_URL"} <= services[name]["environment"].keys(), name
    assert "--skip-checks" not in services["migrate"]["command"], "migrate runs the checks that guard the others"


def test_every_compose_command_names_an_existing_entry_point():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    problems = {}
    for name, service in compose["services"].items():
        if "build" in service:
            assert (ROOT / service["build"] / "Dockerfile").exists()
            problems[name] = _problems(service["command"])
    assert problems and all(found == [] for found in problems.values()), problems


def test_the_dockerfile_command_names_an_existing_entry_point():
    dockerfile = (ROOT / "Dockerfile").read_text()
    command = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE).group(1))
    assert _problems(command) == []


def test_every_procfile_process_names_an_existing_entry_point():
    processes = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line)
    assert processes.keys() == {"web", "worker", "simulator"}
    for line in processes.values():
        for part in line.split("&&"):
            argv = [word for word in shlex.split(part) if word != "exec"]
            assert _problems(argv) == [], line


@pytest.mark.django_db
def test_the_migrations_match_the_models():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_the_app_services_start_after_migrations_and_the_image_holds_no_secrets():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", "var", ".venv", ".git"} <= ignored
