"""Speech domain: decoding, channel split, transcription engines (see service.py)."""
