"""Every table the hub stores, one module per domain: the bottom layer of the hub.

Table definitions import nothing of the hub but ``hub.schema.base`` (the shared
``MetaData``) and ``hub.schema.types``; storage, the domains and the API import them.
"""
