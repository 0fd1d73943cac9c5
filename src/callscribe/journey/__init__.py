"""The customer journey: every conversation with one customer, first to last, across
voice, chat, email and ticket (service, API, the journey page), and prompting about one
engagement. No tables of its own: conversations are calls' (calls.models.Conversation),
grouped by the one ingest path."""
