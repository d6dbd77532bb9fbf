"""Shapes of Kubernetes API objects, as decoding schemas: only the fields someone reads.

Place in the data flow: pure type declarations, no thread, no state. ``kube/decode.py`` decodes
list pages and watch events into them (msgspec skips, without allocating anything, every field
a schema leaves out); the registry declares with them what each transformer reads
(``ResourceSpec.input_schema``). All values here are ``Any``: nothing is validated at decode
time, the transformers' total accessors deal with whatever arrives. (A transformer may type what
it reads instead, as Pods' ``spec`` and ``status`` are: ``registry/transformers/views.py``.)
"""

from __future__ import annotations

from typing import Any, TypedDict


class ObjectMeta(TypedDict, total=False):
    """``ObjectMeta`` without ``managedFields`` (40% of a typical Pod's JSON, read by nobody)."""

    name: Any
    generateName: Any
    namespace: Any
    selfLink: Any
    uid: Any
    resourceVersion: Any
    generation: Any
    creationTimestamp: Any
    deletionTimestamp: Any
    deletionGracePeriodSeconds: Any
    labels: Any
    annotations: Any
    ownerReferences: Any
    finalizers: Any
