"""The data plane (数据面): query, verify and file delivery for information systems, as a lean WSGI callable
beside Django (see :mod:`.app`). Nothing here may import Django at package import time: :mod:`.signing` is used
by the Django-free :mod:`govshare.client`."""
