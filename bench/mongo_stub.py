"""A zero-latency MongoDB stand-in: speaks the wire protocol, acknowledges writes, stores nothing.

Why: no MongoDB server can be installed on the benchmark machines, and mongomock is not a fair
stand-in for throughput (it scans every document for each ``_id`` lookup and unique-index check,
so a bulk of n documents costs O(n^2) there). With this stub, pymongo does all its real work —
BSON encoding, batching, the socket round trips — and the server side costs (almost) nothing, so
the numbers measure the client's CPU: the part informer-mirror's code decides. It is the "zero-
latency server" of issue 5's measurements.

It answers, over OP_MSG (and the legacy OP_QUERY handshake): ``hello``/``isMaster`` (a standalone
MongoDB 7.0), ``ping``, ``endSessions``, ``createIndexes``, ``insert``/``update``/``delete`` (``n``
= the number of statements, as if each matched), ``findAndModify`` (an upsert), and ``find``/
``aggregate``/``count`` (always empty). Run it in its own process: :func:`serve` prints nothing,
sends its port through ``port_out`` and serves until killed.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from typing import Any

import bson

OP_REPLY, OP_QUERY, OP_MSG = 1, 2004, 2013
_HEADER = struct.Struct("<iiii")
_HELLO = {
    "ismaster": True,
    "isWritablePrimary": True,
    "helloOk": True,
    "maxBsonObjectSize": 16 * 1024 * 1024,
    "maxMessageSizeBytes": 48_000_000,
    "maxWriteBatchSize": 100_000,
    "localTime": None,
    "logicalSessionTimeoutMinutes": 30,
    "connectionId": 1,
    "minWireVersion": 0,
    "maxWireVersion": 21,
    "readOnly": False,
    "ok": 1.0,
}


def _reply(command: dict[str, Any], counts: dict[str, int]) -> dict[str, Any]:
    name = next(iter(command)).lower()
    if name in ("hello", "ismaster"):
        import datetime  # noqa: PLC0415

        return {**_HELLO, "localTime": datetime.datetime.now(tz=datetime.UTC)}
    if name in ("insert", "update", "delete"):
        n = counts.get({"insert": "documents", "update": "updates", "delete": "deletes"}[name], 0)
        return {"n": n, "nModified": n if name == "update" else 0, "ok": 1.0}
    if name == "findandmodify":
        return {"lastErrorObject": {"n": 1, "updatedExisting": True}, "value": None, "ok": 1.0}
    if name in ("find", "aggregate", "listindexes", "listcollections"):
        namespace = f"{command.get('$db', 'db')}.{command[next(iter(command))]}"
        return {"cursor": {"id": bson.Int64(0), "ns": namespace, "firstBatch": []}, "ok": 1.0}
    if name == "count":
        return {"n": 0, "ok": 1.0}
    if name == "createindexes":
        return {"numIndexesBefore": 1, "numIndexesAfter": 1, "ok": 1.0}
    return {"ok": 1.0}  # ping, endSessions, buildInfo...


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = conn.makefile("rb")
        while True:
            header = reader.read(16)
            if len(header) < 16:
                return
            length, request_id, _, opcode = _HEADER.unpack(header)
            body = reader.read(length - 16)
            if opcode == OP_MSG:
                command, counts = _parse_msg(body)
                payload = struct.pack("<I", 0) + b"\x00" + bson.encode(_reply(command, counts))
                out_op = OP_MSG
            elif opcode == OP_QUERY:
                command = _parse_query(body)
                doc = bson.encode(_reply(command, {}))
                payload = struct.pack("<iqii", 0, 0, 0, 1) + doc
                out_op = OP_REPLY
            else:
                return
            conn.sendall(
                _HEADER.pack(16 + len(payload), request_id + 1, request_id, out_op) + payload
            )


def _parse_msg(body: bytes) -> tuple[dict[str, Any], dict[str, int]]:
    flags = struct.unpack_from("<I", body)[0]
    end = len(body) - (4 if flags & 1 else 0)
    pos = 4
    command: dict[str, Any] = {}
    counts: dict[str, int] = {}
    while pos < end:
        kind = body[pos]
        pos += 1
        if kind == 0:
            size = struct.unpack_from("<i", body, pos)[0]
            command = bson.decode(body[pos : pos + size])
            pos += size
        else:
            size = struct.unpack_from("<i", body, pos)[0]
            section_end = pos + size
            name_end = body.index(b"\x00", pos + 4)
            identifier = body[pos + 4 : name_end].decode()
            doc_pos, n = name_end + 1, 0
            while doc_pos < section_end:
                doc_pos += struct.unpack_from("<i", body, doc_pos)[0]
                n += 1
            counts[identifier] = n
            pos = section_end
    for key in ("documents", "updates", "deletes"):
        if key in command:
            counts[key] = len(command[key])
    return command, counts


def _parse_query(body: bytes) -> dict[str, Any]:
    name_end = body.index(b"\x00", 4)
    pos = name_end + 1 + 8  # numberToSkip, numberToReturn
    size = struct.unpack_from("<i", body, pos)[0]
    query: dict[str, Any] = bson.decode(body[pos : pos + size])
    return query.get("$query", query)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(port_out: Any, stop: Any = None) -> None:
    """Serve on a free port of 127.0.0.1; send the port through ``port_out``; run until killed
    (or until the ``stop`` event, if given, is set)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    port_out.send(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, name="mongo-stub", daemon=True)
    thread.start()
    if stop is None:
        thread.join()
    else:
        stop.wait()
        server.shutdown()
