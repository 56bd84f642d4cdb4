"""Engines run the planned shards of a build (`output.plan`) through `output.shard_writer.write_shard`."""
