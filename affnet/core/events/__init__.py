"""Events: recording what product owners report, and attributing it to a click."""
