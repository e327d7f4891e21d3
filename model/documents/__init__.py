"""The IAM, CodeArtifact, KMS, S3 and SQS policy documents as pure functions of the Settings, by concern.

Every document is a plain dict known at preview time, so the policy pack, the access evaluation and the tests
all see exactly what AWS will receive (`model.trust_policy.to_json` is the string sent).
"""
