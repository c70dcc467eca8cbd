"""The AWS target (in progress): sessions and credentials, S3 release artifacts."""
