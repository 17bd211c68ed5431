//! RFC 3161 timestamp authority: parses timestamp queries and issues signed timestamp tokens.
