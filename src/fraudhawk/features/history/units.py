"""Lengths of time in milliseconds, the unit of event times in both history engines."""

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
