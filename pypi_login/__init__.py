"""Consumer login for the private PyPI: one CodeArtifact token, settings for pip, uv and poetry.

`pypi-login` (the script of the wheel that login/pyproject.toml builds; `python -m pypi_login` in a
checkout) gets a token for the configured registry and prints shell exports (default) or PowerShell
assignments, or writes the tools' user configuration (`--write`, after refusing any setting that
would send a tool to another index), showing when the token expires and refusing one that has
already expired; `--configure` saves the registry from the stack outputs once; `--status` says
whether each tool's token is missing, expired or of unknown expiry, and `--doctor` asks the index
with it and says what is wrong. See `--help`.
"""
