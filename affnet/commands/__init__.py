"""The built-in commands of ``affnet``, grouped by subject."""


def register_all(cli):
    from . import admin, network, server
    for module in (admin, network, server):
        module.register(cli)
