"""Email notifications: who hears about a document, digests, and a durable outbox."""
