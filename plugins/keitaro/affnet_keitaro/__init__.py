"""Postbacks to affiliates' own trackers: the ``postback`` delivery kind.

Enable it with ``plugins.enabled = ["keitaro"]``. The hooks are in
``affnet_keitaro.plugin``; the tracker presets in ``affnet_keitaro.presets``.
"""
