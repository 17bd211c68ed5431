//! Certificate authority: short-lived code-signing certificates with the Fulcio OID extensions, and signed certificate timestamps (RFC 6962).
