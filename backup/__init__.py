"""Loss-proof operations: every internal package backed up to a locked bucket, and restored from it."""
