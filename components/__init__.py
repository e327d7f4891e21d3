"""Components of the private PyPI registry, one per concern."""
