"""API views by area: candidates, reviews, learning, imports, exports. Each parses, calls one
service or selector, and serializes."""
