"""The WSGI entry point for gunicorn: ``gunicorn affnet.wsgi:app``."""
from .app import create_app

app = create_app()
