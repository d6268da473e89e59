"""Outgoing messages: the outbox the worker sends, and the versioned settings they use."""
