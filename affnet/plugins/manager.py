"""The plugin manager: the ``affnet`` entry points and the config's list.

An installed plugin is an entry point in the group ``affnet``; it is
registered only when its name is in ``plugins.enabled``. A plugin that is not
enabled is never imported, so it has no effect at all.
"""

import logging
import re
from importlib.metadata import entry_points

import pluggy

from . import hookspecs

log = logging.getLogger("affnet.plugins")

GROUP = "affnet"
_SEGMENT = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
# Hooks the core calls one implementation at a time (``call_isolated``,
# ``declared_by_plugins``, ``mount_routes``), so that one plugin's failure
# never reaches another's. A pluggy wrapper around them would never run as a
# wrapper: a plugin that declares one is refused when it is registered.
ISOLATED_HOOKS = (
    "register_routes",
    "delivery_kinds",
    "deliveries_for_event",
    "on_event_recorded",
    "payout_methods",
    "config_keys",
    "offer_integrations",
)


class PluginError(Exception):
    """An enabled plugin is not installed or cannot be loaded."""


def installed_plugins() -> dict:
    """Entry point name -> entry point, for every installed plugin."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def get_plugin_manager(enabled=(), load_entrypoints: bool = True, extra=()) -> pluggy.PluginManager:
    """A plugin manager with the hook specs, the enabled entry points and
    ``extra`` plugins (tests and embedders register plugins directly): plugin
    objects, or ``(name, plugin)`` pairs so that the plugin gets its
    ``[plugin.<name>]`` config section as an installed one would."""
    pm = pluggy.PluginManager("affnet")
    pm.add_hookspecs(hookspecs)
    if load_entrypoints:
        available = installed_plugins()
        for name in enabled:
            if name not in available:
                raise PluginError(
                    f"plugin {name!r} is enabled in plugins.enabled but not installed "
                    f"(installed: {', '.join(sorted(available)) or 'none'})"
                )
            try:
                module = available[name].load()
            except Exception as error:  # a broken plugin must name itself
                raise PluginError(f"plugin {name!r} failed to load: {error}") from error
            pm.register(module, name=name)
    for plugin in extra:
        if isinstance(plugin, tuple):
            pm.register(plugin[1], name=plugin[0])
        else:
            pm.register(plugin)
    pm.check_pending()
    _refuse_wrappers(pm)
    return pm


def _refuse_wrappers(pm: pluggy.PluginManager) -> None:
    for name in ISOLATED_HOOKS:
        for impl in getattr(pm.hook, name).get_hookimpls():
            if impl.hookwrapper or impl.wrapper:
                raise PluginError(
                    f"plugin {impl.plugin_name!r} implements {name} as a wrapper: affnet calls "
                    f"each plugin's {name} on its own, so write it as a plain hookimpl"
                )


def hooks_of(pm: pluggy.PluginManager, plugin) -> list[str]:
    return sorted(caller.name for caller in pm.get_hookcallers(plugin) or ())


def plugin_report(enabled) -> tuple[list[dict], list[str]]:
    """What ``affnet plugins`` prints and the operator's plugins page shows: every installed plugin (name,
    module, enabled, version, the hooks it implements), and the names enabled but not installed."""
    available = installed_plugins()
    pm = get_plugin_manager([name for name in enabled if name in available])
    rows = []
    for name, entry_point in sorted(available.items()):
        plugin = pm.get_plugin(name)
        dist = entry_point.dist
        rows.append(
            {
                "name": name,
                "module": entry_point.value,
                "enabled": name in enabled,
                "version": dist.version if dist else None,
                "hooks": hooks_of(pm, plugin) if plugin is not None else [],
            }
        )
    return rows, [name for name in enabled if name not in available]


def results_by_plugin(pm: pluggy.PluginManager, hook_name: str, **kwargs) -> list[tuple[str, object]]:
    """(plugin name, result) of each implementation of a hook, in the order the plugins were registered,
    each called on its own: one that raises is logged and left out."""
    results = []
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        try:
            result = impl.function(**{name: kwargs[name] for name in impl.argnames})
        except Exception:
            log.exception("plugin %s failed in %s", impl.plugin_name, hook_name)
            continue
        results.append((impl.plugin_name, result))
    return results


def call_isolated(pm: pluggy.PluginManager, hook_name: str, **kwargs) -> list:
    """Call a hook one implementation at a time, in pluggy's order (the last registered first); one that
    raises is logged and skipped. Returns the results of the others that are not None."""
    return [result for _, result in reversed(results_by_plugin(pm, hook_name, **kwargs)) if result is not None]


def declared_by_plugins(pm: pluggy.PluginManager, hook_name: str) -> list[tuple[str, object]]:
    """(plugin name, item) for every item that the implementations of a
    "list what you offer" hook return; one that raises is logged and left out."""
    return [(name, item) for name, items in results_by_plugin(pm, hook_name) for item in items or []]


def declared_by_name(pm: pluggy.PluginManager, hook_name: str) -> tuple[dict, dict]:
    """({item.name: item}, {item.name: plugin name}) of what a "list what you offer" hook returns."""
    declared = declared_by_plugins(pm, hook_name)
    return {item.name: item for _, item in declared}, {item.name: plugin for plugin, item in declared}


def mount_routes(pm: pluggy.PluginManager, app) -> list[str]:
    """Register every plugin's blueprints under ``/hooks/<blueprint name>/``
    (``register_routes``); returns the prefixes mounted. A plugin that fails,
    returns something else than blueprints, or names a blueprint that is not
    a plain path segment is logged and left out: a plugin can never take
    ``/r``, ``/api/ingest/`` or a page's path."""
    from flask import Blueprint

    mounted = []
    for impl in pm.hook.register_routes.get_hookimpls():
        try:
            given = impl.function()
        except Exception:
            log.exception("plugin %s failed in register_routes", impl.plugin_name)
            continue
        for blueprint in given if isinstance(given, (list, tuple)) else [given] if given is not None else []:
            if not isinstance(blueprint, Blueprint) or not _SEGMENT.fullmatch(blueprint.name):
                log.error(
                    "plugin %s: register_routes must return Flask Blueprints named with letters, digits, "
                    "'_' or '-' (got %r); its routes are not mounted",
                    impl.plugin_name,
                    blueprint,
                )
                continue
            prefix = f"/hooks/{blueprint.name}"
            try:
                app.register_blueprint(blueprint, url_prefix=prefix)
            except ValueError as error:  # another blueprint of that name
                log.error("plugin %s: %s; its routes are not mounted", impl.plugin_name, error)
                continue
            mounted.append(prefix)
    return mounted


def declared_config(pm: pluggy.PluginManager) -> dict[str, dict]:
    """Plugin name -> {key name: ConfigKey} for every plugin that declares its
    config section (``config_keys``)."""
    declared: dict[str, dict] = {}
    for impl in pm.hook.config_keys.get_hookimpls():
        try:
            keys = impl.function() or []
        except Exception as error:  # a section that cannot be checked must not be used unchecked
            raise PluginError(f"plugin {impl.plugin_name!r} failed to declare its config keys: {error}") from error
        declared[impl.plugin_name] = {key.name: key for key in keys}
    return declared


def check_plugin_config(pm: pluggy.PluginManager, settings) -> dict[str, dict]:
    """Hold each plugin's ``[plugin.<name>]`` section to the keys it declares;
    raises PluginError with one line naming the first wrong key. Returns each
    declaring plugin's values, defaults filled in."""
    checked = {}
    for name, keys in declared_config(pm).items():
        given = settings.plugin_config(name)
        for key, value in given.items():
            if key not in keys and not keys:
                raise PluginError(f"plugin.{name}.{key}: {name} takes no settings in its section")
            if key not in keys:
                raise PluginError(f"plugin.{name}.{key}: {name} has no such key (its keys: {', '.join(sorted(keys))})")
            why = keys[key].check(value)
            if why:
                raise PluginError(f"plugin.{name}.{key}: {why}")
        checked[name] = {key.name: given.get(key.name, key.default) for key in keys.values()}
    return checked
