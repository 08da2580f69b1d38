# The panel's image for production: web (gunicorn), worker and beat all run from it (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# gettext's msgfmt compiles the translations below (the .mo files are never committed).
RUN apt-get update && apt-get install -y --no-install-recommends gettext && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml README.md ./
RUN pip install --upgrade pip && pip install .

COPY . .
# compilemessages and collectstatic need settings but no database or Redis: throwaway values just for the build
# (the fail-closed checks of production settings do not run for these commands). The Japanese catalog is
# compiled while the files are still root's, then the app runs as its own user.
ENV BUILD_SETTINGS="DEBUG=false SECRET_KEY=build-only ALLOWED_HOSTS=localhost"
RUN env $BUILD_SETTINGS python manage.py compilemessages --verbosity 0
RUN useradd --system --home /app panel && mkdir -p /app/var && chown -R panel /app/var
USER panel
RUN env $BUILD_SETTINGS python manage.py collectstatic --noinput

EXPOSE 8000
CMD ["gunicorn", "panel.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4"]
