#!/usr/bin/python3
"""A misbehaving HTTP server for the hostile-peer tests: it listens on 127.0.0.1 (a port
the kernel picks), prints `PORT <n>` on stdout, and answers every connection the way
MODE says, until it is killed. Raw sockets, so that it can break HTTP in ways a real
server library would not.

usage: hostile_server.py MODE

MODE:
  trickle-body     200 with Content-Length 100000, then one body byte every 50 ms
  trickle-headers  a status line, then one header byte every 50 ms, never ending
  endless-headers  a status line, then header lines as fast as the client reads
  many-headers     200 header lines of 20 bytes, then a 2-byte body
  huge-length      Content-Length of 100 GB, then zeros as fast as the client reads
  redirect         302 to /elsewhere on the same server (which would answer `fine`)
  big-body         200 with a JSON body of 1.5 MiB (a valid JWK set, padded)
  fine             a small 200 answer with a JSON body (the control)
"""
import socket
import sys
import threading
import time


def read_request(conn):
    data = b""
    conn.settimeout(5)
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = conn.recv(4096)
        if not chunk:
            break
        rest += chunk


def serve(conn, mode):
    try:
        read_request(conn)
        conn.settimeout(None)
        if mode == "trickle-body":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100000\r\n\r\n")
            while True:
                conn.sendall(b" ")
                time.sleep(0.05)
        elif mode == "trickle-headers":
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while True:
                conn.sendall(b"a")
                time.sleep(0.05)
        elif mode == "endless-headers":
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            line = b"X-Filler: " + b"a" * 100 + b"\r\n"
            block = line * 100
            while True:
                conn.sendall(block)
        elif mode == "many-headers":
            head = b"HTTP/1.1 200 OK\r\n"
            head += b"".join(b"X-Header-%04d: %05d\r\n" % (i, i) for i in range(200))
            conn.sendall(head + b"Content-Length: 2\r\n\r\n{}")
        elif mode == "huge-length":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n")
            block = b"\0" * 65536
            while True:
                conn.sendall(block)
        elif mode == "redirect":
            conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n")
        elif mode == "big-body":
            body = b'{"keys":[],"pad":"' + b"x" * (1536 * 1024) + b'"}'
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                         % len(body) + body)
        elif mode == "fine":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 2\r\n\r\n{}")
    except OSError:
        pass  # the client gave up: that is what the tests want
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    mode = sys.argv[1]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    print("PORT %d" % listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, mode), daemon=True).start()


if __name__ == "__main__":
    main()
