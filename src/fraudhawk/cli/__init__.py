"""The `fraudhawk` command line."""
