"""The HTTP request node, behind an SSRF guard."""
