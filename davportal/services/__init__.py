"""Use cases over the ground: documents, trash, sharing, accounts, audit, sign-in, scanning.

The WebDAV provider, the web pages and the CLI all call these; none of them imports an adapter."""
