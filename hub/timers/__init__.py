"""timers domain: stored, exactly-once timers (escalations, conditions over time, time limits)."""
