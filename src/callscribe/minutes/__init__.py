"""Minutes: turning a transcript into a subject, summary, sentiment, outcome,
sections and action items (local analyzer or an OpenAI-compatible LLM)."""
