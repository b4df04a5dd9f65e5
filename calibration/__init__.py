"""harbridge.calibration."""
