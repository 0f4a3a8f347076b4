"""listguard: lawful rental of contact files.

The public API is small; everything else is private and may change.
"""

from listguard.errors import InputError, ListguardError, UsageError

__version__ = "0.1.0"

__all__ = ["InputError", "ListguardError", "UsageError", "__version__"]
