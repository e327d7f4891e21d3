"""The airlock's promoter: admits public PyPI versions into the vetted repository after a cooldown and an
admission policy, and pulls back admitted versions that OSV later flags. Standard library and boto3 only:
it runs in AWS Lambda's Python runtime (promoter/README.md)."""
