"""Measurements from stored events: InfluxDB export, embedded history (docs/telemetry.md)."""
