"""The WSGI entry point for gunicorn: ``gunicorn affnet.wsgi:app``."""

import gc

from .app import create_app

app = create_app()
# What the app holds from now on lives as long as the process: out of the garbage collector's
# sight, a full collection has far fewer objects to walk (shorter pauses on the click path).
gc.freeze()
