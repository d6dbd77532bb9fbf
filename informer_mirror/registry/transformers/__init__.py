"""Kind-specific transformers: raw API object -> the fields of its document an operator queries.

Place in the data flow: each function here is the ``transformer`` of one built-in ResourceSpec
(``registry/builtin.py`` wires them), called by ``ResourceSpec.to_document`` on that resource's
reflector thread as objects enter the Store. ``common`` holds the contract (``Transformer``,
``TransformOptions``), the total accessors they are written with, and the common metadata; one
module per API group holds the kinds. Pure functions; nothing here owns state.
"""
