"""AI clients shared by the domains: OpenAI-compatible chat with JSON-schema output."""
