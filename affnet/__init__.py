"""affnet: a self-hosted affiliate network.

Plugin authors import ``hookimpl`` from here::

    from affnet import hookimpl
"""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("affnet")

__all__ = ["hookimpl", "__version__"]
