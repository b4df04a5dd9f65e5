"""harbridge.models."""
