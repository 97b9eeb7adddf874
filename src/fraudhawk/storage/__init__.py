"""Persistence: the SQL schema, its migrations and the database handle (SQLite or PostgreSQL)."""
