"""The output contract: planned shards, the manifest, one-shard writer, staging and commit (README "What you can rely on")."""
