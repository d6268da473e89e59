"""Blueprints: the tracking link, the APIs, and (later) the pages."""
