"""callscribe: self-hosted conversation intelligence."""

__version__ = "0.1.0"
