"""Retention and deletion: the company's storage durations (recordings, transcripts),
the daily task that deletes what is past its time (blobs first, then rows), deleting one
engagement, and erasing a customer (a GDPR request)."""
