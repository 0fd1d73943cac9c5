"""The processing pipeline: an ordered list of steps over one engagement, run by one
runner that owns the lease, the attempts and the status transitions."""
