"""Tests of the REST API (informer_mirror/api)."""
