"""The corpus cases are projects, not part of sluice's suite: their own tests (one case has
them) run under `sluice check` in tests/glue/test_corpus.py, with sluice's pytest plugin."""

collect_ignore_glob = ["*"]
