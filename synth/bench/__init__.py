"""Benchmarks behind `synth bench ...` (targets live here, never in timed tests)."""
