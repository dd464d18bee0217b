"""OAuth 1.0a (RFC 5849), sans I/O: encoding, base strings, signatures and the three-legged
flow as protocol steps."""
