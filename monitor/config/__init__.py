"""The watch config: YAML files (``load``) validated into models (``models``); OPML import."""
