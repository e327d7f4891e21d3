"""Consumer login for the private PyPI: one CodeArtifact token, settings for pip, uv and poetry.

`pypi-login` gets a token for the configured domain and prints shell exports (default)
or writes the tools' user configuration (`--write`), showing when the token expires and refusing
one that has already expired; `--status` says whether the configured token is missing or expired,
and `--doctor` asks the index with it and says what is wrong. See `--help`.
"""
