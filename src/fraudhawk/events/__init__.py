"""Stored events: single events (SendEvent), batch imports of CSV files, labels, deletion, and the
columnar segments training reads (their columns are `fraudhawk.eventdata.layout`)."""
