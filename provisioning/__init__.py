"""Creating and changing clients, their folders, staff and contacts (services over a Session)."""
