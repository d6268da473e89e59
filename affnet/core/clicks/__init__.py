"""Clicks: the tracking link's route and click rows, and the spool that stores them."""
