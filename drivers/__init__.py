"""harbridge.drivers: sample sources (serial, MQTT, file replay) and their framing."""
