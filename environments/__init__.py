"""The catalog of environment families: one module per family, each registering itself."""
