"""Our own tests use the same fixtures as a plugin author (affnet.testing)."""
pytest_plugins = ["pytester"]
