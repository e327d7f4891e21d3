"""Loss-proof operations: every internal package version copied to a locked bucket, and retention by archiving.

Lambda entry points are in backup/handler.py; standard library and boto3 only (Lambda's Python 3.12 runtime).
"""
