"""File-driven pipelines: a pipeline watches a prefix (the embedded S3 root, a real S3-compatible
store, or a folder) for new or changed CSV files and runs one action per file (import, train a model
version, batch predict), optionally after a raw-CSV transform, exactly once across restarts and
replicas. The actions go through AFD's operations (a `Call` the service passes in), so this package
sits just below the service.
"""
