"""The stack's ceiling views, which exist only while `manage.py bench_api` runs: its gunicorn loads
api.bench.settings, whose URLs are the panel's plus these; production (panel.urls) never routes them."""
