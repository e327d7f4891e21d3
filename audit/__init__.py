"""Offline audit: render the stack under Pulumi's mock engine and report on it."""
