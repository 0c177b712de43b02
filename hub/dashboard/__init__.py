"""The property manager's dashboard: building health, active alerts, time limits, trends."""
