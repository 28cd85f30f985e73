"""What the workshop notebooks import: targets, naming, packaging, waiting, chat clients, logs.

The local cloud lives in :mod:`workshop_utils.localcloud`; the ``workshop`` command in
:mod:`workshop_utils.cli`.
"""

__version__ = "0.1.0"
