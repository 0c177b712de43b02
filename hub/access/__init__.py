"""Who may see what: roles' reach (scope), the rows each may see (visibility) and
what a device says about people (privacy). Below every domain that answers a person."""
