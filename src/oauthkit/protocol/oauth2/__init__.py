"""OAuth 2.x (RFC 6749 and its extensions), sans I/O: requests, callback validation, grants
as protocol steps, token responses, discovery, revocation and introspection."""
