"""Payouts through the Wise API: the ``wise`` payout method.

Enable it with ``plugins.enabled = ["payout_wise"]``, set the operator's API
token with ``affnet payouts credentials`` and, in ``[plugin.payout_wise]``,
``base_url`` (the sandbox until you change it) and ``profile_id``. The hooks
are in ``affnet_payout_wise.plugin``; what the affiliate fills in is in
``recipient``; the calls to Wise in ``client``; the payout's flow (send and
poll) in ``payout``.
"""
