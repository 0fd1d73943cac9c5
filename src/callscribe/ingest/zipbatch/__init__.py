"""The ZIP ingest API (issue 14): ingestion sources and ingest keys (`access`), batches of
JSONL data sets in a ZIP (`models`, `service`), ZIP safety (`safety`), one loader per
data set (`loaders/`), and the resumable processing task (`tasks`)."""
