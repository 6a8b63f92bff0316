"""The WsgiDAV side of the portal: domain controller, provider layer and middleware."""
