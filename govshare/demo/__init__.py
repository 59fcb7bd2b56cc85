"""The demo city (潮州市) built by ``govshare demo``: definitions as data, generators, and the builder.

A plain package, not a Django app: it writes only through the apps' services.
"""
