"""A conformance suite that checks a deployment of the Nick jobs API against its spec."""
