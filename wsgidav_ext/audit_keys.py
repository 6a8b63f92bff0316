"""What a request leaves in its environ for the audit trail."""

EVENTS_KEY = "davportal.audit_events"  # extra events a request adds (a share change, say)
TARGET_KEY = "davportal.target"  # the gate's view of the request target
AUDIT_PATH_KEY = "davportal.audit_path"  # the document actually read, when not the URL's (a shared file)
