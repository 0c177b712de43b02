"""points domain: volunteers' points (积分) as a ledger of entries, never an edited balance."""
