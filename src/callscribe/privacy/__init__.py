"""Privacy: PII detection and write-time redaction (read-time masking and reveal audit
come here too)."""
