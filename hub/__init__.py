"""Community Hub: device events in, alerts and service tickets out."""
