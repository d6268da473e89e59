"""A test-only affnet plugin that echoes every delivery to a receiver."""
