"""Workspace as code: a declarative YAML file of AFD's resources, exported from a data directory or an
AFD account and applied to a data directory through AFD's own operations.

`document` reads and writes the file (positions, schema checks, stable output), `reader` reads a
workspace through any AFD `Call` (the in-process service or boto3), `sections/` has one module per
top-level key, `plan` compares the file with the store and `apply` carries the plan out.
"""
