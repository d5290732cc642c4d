"""A stateful mock of the Nick jobs API, driven by its spec."""
