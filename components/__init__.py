"""The Pulumi components of the private PyPI registry, one per concern, built from model/ (the settings and the
policy documents)."""
