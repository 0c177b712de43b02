"""What a person reads, in their language and their community's time.

- ``locales``: the languages the product speaks and how a reader's one is chosen
  (their profile, else their browser, else their community's default).
- ``catalogs``: the message catalogs (gettext .po files under ``locales/``), two
  domains: ``messages`` (Python and the server-rendered templates) and ``pages``
  (the people's pages and their scripts, which load their part as JSON).
- ``times``: times in a community's zone, formatted for a language, and relative times.
- ``formats``: phone numbers grouped for reading, addresses in the Chinese order.

Nothing here imports the rest of the hub: every layer may use it.
"""
