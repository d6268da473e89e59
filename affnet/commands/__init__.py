"""The built-in commands of ``affnet``, grouped by subject."""


def register_all(cli):
    from . import admin, backup, network, payouts, server, settings, spool, stats

    for module in (admin, network, server, settings, stats, backup, spool, payouts):
        module.register(cli)
