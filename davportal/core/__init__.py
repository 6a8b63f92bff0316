"""The ground floor: settings, errors, tables, database, storage. Imports nothing of the portal above it."""
