"""affnet's Facebook Conversions API plugin: an affiliate's own pixel hears
of the network's conversions (Lead, StartTrial, Purchase), server to server.

``events`` turns an affnet event into a Conversions API event; ``graph``
sends batches of them and reads Meta's answers; ``plugin`` holds the hooks.
"""

KIND = "fb_capi"  # the delivery kind, named as the plugin is
