"""The main job: config, shard planning, shard execution, output and the Ray layer."""
