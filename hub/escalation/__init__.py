"""escalation domain: who hears of a ticket next when nobody takes it in time."""
