"""The catalog of environment families: one module or package per family, each registering
itself."""
