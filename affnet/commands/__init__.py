"""The built-in commands of ``affnet``, grouped by subject."""


def register_all(cli):
    from . import admin, network, server, settings, stats, backup
    for module in (admin, network, server, settings, stats, backup):
        module.register(cli)
