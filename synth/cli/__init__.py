"""The `synth` command line."""
