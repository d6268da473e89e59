"""The network's people and offers: users, offers, participations, keys and tokens."""
