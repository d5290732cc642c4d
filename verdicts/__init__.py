"""What judging needs, shared by the conformance suite and the proxy: checks, exchanges, results, reports."""
