"""Offline evaluation: datasets, metrics, runner, reports, regression gate, scenarios."""
