"""The domain: plain functions over models, no Flask where it can be avoided."""
