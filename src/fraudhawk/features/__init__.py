"""Feature engineering for model training: what each variable contributes beyond its raw value."""
