"""Scoring with trained model versions: loading artifacts and turning events into 0-1000 scores."""
