"""The tools' subcommands of ``community-hub`` (demo, simulate, bench), one module each:
their arguments and how each starts. tools/pyproject.toml names them as entry points of
``community_hub.commands``, which hub/cli.py loads; nothing else imports them.
"""
