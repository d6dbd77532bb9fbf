"""informer-mirror: a live, queryable copy of a Kubernetes cluster's state in a database.

Data flow (see README.rst): Settings -> Registry -> per-resource Reflector threads (list + watch)
-> Store -> WorkQueue of keys -> BatchWriter -> Backend (SQLite or MongoDB) -> Flask REST API.
"""

__version__ = "0.1.0"
