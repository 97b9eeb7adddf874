"""Predictions: a detector version evaluated on events, one at a time or a file at a time, and the
record of every real-time prediction."""
