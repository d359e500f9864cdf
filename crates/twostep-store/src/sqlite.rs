//! The embedded store: one SQLite database file (to be implemented).
