"""The portal in a browser: sign-in, folder pages and actions, on the same URLs and policy as WebDAV."""
