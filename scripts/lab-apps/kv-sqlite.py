#!/usr/bin/env python3
"""The lab's SQLite service (scripts/lab-images sqlite): an HTTP server on port 8000 (FERRY_PORT)
keeping key/values in an SQLite database (FERRY_SQLITE_DB, default /data/app.db; WAL mode,
synchronous=FULL; FERRY_SQLITE_LOCKING=exclusive keeps the WAL index in the process's own memory
instead of the mapped -shm file, and the database locked), committed before it answers:
  PUT or POST /kv/KEY  (body = value)  stores it          GET /kv/KEY  its value, or 404
  GET /count           number of keys                    GET /incr, GET /get  a counter row
  GET /check           PRAGMA integrity_check ("ok")
  GET /                "ok"
Lab tooling (Python's standard library only): it shows whether a process holding an open SQLite
database, its WAL and its shared-memory index survives a move with its data directory."""
import os
import signal
import sqlite3
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

DB = os.environ.get("FERRY_SQLITE_DB", "/data/app.db")
PORT = int(os.environ.get("FERRY_PORT", "8000"))

os.makedirs(os.path.dirname(DB) or ".", exist_ok=True)
conn = sqlite3.connect(DB, isolation_level=None)  # explicit transactions below
if os.environ.get("FERRY_SQLITE_LOCKING", "normal") == "exclusive":
    # Before WAL mode is entered: then SQLite never maps a -shm file (a lock on a mapped file is
    # what CRIU's restore loses; Ferry refuses that case).
    conn.execute("PRAGMA locking_mode=EXCLUSIVE")
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("PRAGMA synchronous=FULL")
conn.execute("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v BLOB NOT NULL)")


def write(sql, args=()):
    conn.execute("BEGIN IMMEDIATE")
    try:
        cur = conn.execute(sql, args)
        conn.execute("COMMIT")
        return cur
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class Handler(BaseHTTPRequestHandler):
    def reply(self, status, body):
        data = body if isinstance(body, bytes) else (str(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path.startswith("/kv/") and len(path) > 4:
            row = conn.execute("SELECT v FROM kv WHERE k = ?", (path[4:],)).fetchone()
            self.reply(200, row[0]) if row else self.reply(404, "not found")
        elif path == "/count":
            self.reply(200, conn.execute("SELECT count(*) FROM kv").fetchone()[0])
        elif path == "/incr":
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("INSERT INTO kv VALUES ('counter', 1) ON CONFLICT(k) DO UPDATE SET v = v + 1")
                value = conn.execute("SELECT v FROM kv WHERE k = 'counter'").fetchone()[0]
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self.reply(200, value)
        elif path == "/get":
            row = conn.execute("SELECT v FROM kv WHERE k = 'counter'").fetchone()
            self.reply(200, row[0] if row else 0)
        elif path == "/check":
            # SQLite's own check of every page and index, on the connection that holds the database.
            self.reply(200, "\n".join(row[0] for row in conn.execute("PRAGMA integrity_check")))
        elif path == "/":
            self.reply(200, "ok")
        else:
            self.reply(404, "not found")

    def do_PUT(self):
        path = self.path.split("?", 1)[0]
        if not (path.startswith("/kv/") and len(path) > 4):
            return self.reply(404, "not found")
        value = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        write("INSERT OR REPLACE INTO kv VALUES (?, ?)", (path[4:], value))
        self.reply(200, "ok")

    do_POST = do_PUT

    def log_message(self, fmt, *args):
        pass  # quiet: one line per request would fill the container log


def stop(signum, frame):
    conn.close()
    sys.exit(0)


# PID 1 of the container: without handlers, SIGTERM and SIGINT would be ignored.
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
server = HTTPServer(("0.0.0.0", PORT), Handler)
print(f"ferry-kv-sqlite (python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}) on {PORT}, db {DB}", flush=True)
server.serve_forever()
