"""Print the environment for a test run: the real Postgres and Redis when they answer.

With CI set both are required, and a missing one fails the run loudly; on a developer's machine without them
the suite falls back to SQLite and an in-memory cache (with a warning), so it still runs.
"""

import os
import socket
import sys
from urllib.parse import urlsplit

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def _where(url: str) -> str:
    # Never the user or password of the URL: this is printed.
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}"


def _answers(url: str, probe: bytes, expect: bytes) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=2) as sock:
            if not probe:
                return True
            sock.sendall(probe)
            return sock.recv(64).startswith(expect)
    except OSError:
        return False


def main() -> int:
    required = bool(os.environ.get("CI"))
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    assignments = []
    missing = []
    if not database_url.startswith("postgres"):
        missing.append("PostgreSQL (DATABASE_URL is not a postgres:// URL)")
    elif not _answers(database_url, b"", b""):
        missing.append(f"PostgreSQL at {_where(database_url)}")
        database_url = "sqlite:///" + os.path.abspath("var/test.sqlite3")
    assignments.append(f"DATABASE_URL={database_url}")
    if _answers(redis_url, b"PING\r\n", b"+PONG"):
        assignments += [f"REDIS_URL={redis_url}", f"CELERY_BROKER_URL={redis_url}"]
    else:
        missing.append(f"Redis at {_where(redis_url)}")
    if missing and required:
        print(f"CI requires {' and '.join(missing)}, which did not answer.", file=sys.stderr)
        return 1
    for item in missing:
        print(f"warning: {item} did not answer; testing without it.", file=sys.stderr)
    print(" ".join(assignments))
    return 0


if __name__ == "__main__":
    sys.exit(main())
