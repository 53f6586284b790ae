"""Versioned prompt templates (``<name>.v<version>.md``), shipped as package data."""
