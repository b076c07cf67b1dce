"""Patch series as versioned models: one directory per series, one module per patch."""
