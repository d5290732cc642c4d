"""`jobs-proxy`: a validation proxy that checks real traffic against the spec and its lifecycle."""
