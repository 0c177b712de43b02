"""Reports for community staff: a daily digest and a weekly bulletin per community.

- ``periods``: local days and ISO weeks in a community's time zone, as UTC windows.
- ``data``: the queries, over alerts, tickets and their log, points and users.
- ``facts``: what a ticket's row and audit trail say about it at a moment (pure).
- ``digest`` and ``bulletin``: the two reports' numbers (pure functions of the rows).
- ``charts``: bar charts as inline SVG; ``render``: complete HTML pages.
- ``service``: load and compute a report for a community.
"""
