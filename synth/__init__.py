"""synth: agentic post-training data for DeepSeek-V3.2."""

__version__ = "0.1.0"
