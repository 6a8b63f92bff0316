"""Benchmark: the portal against plain WsgiDAV, on identical trees, in one run (`python -m bench`)."""
