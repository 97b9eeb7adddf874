"""Stored events: single events (SendEvent), batch imports of CSV files, labels, deletion, and the
columnar layout training reads."""
