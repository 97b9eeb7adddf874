"""Detectors: versioned bundles of rules, model versions and external models, and their rules."""
