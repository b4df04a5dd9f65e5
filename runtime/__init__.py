"""harbridge.runtime."""
