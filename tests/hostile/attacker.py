#!/usr/bin/env python3
"""A hostile local user against syncd's socket, written from docs/PROTOCOL.md alone.

    attacker.py SOCKET hold N        open N connections (Hello each), hold them until stdin closes
    attacker.py SOCKET errors N      N pipelined Errors requests naming one store 10 000 times
    attacker.py SOCKET fuzz SEED N   N mutated valid frames (seeded), over fresh connections
    attacker.py SOCKET pause N       N pipelined Pause requests on one connection

Prints one line of figures (JSON) and exits. Every loop is bounded by N and by time.
"""
import json, random, socket, struct, sys, time

def frame(kind, payload):
    return struct.pack(">IH", len(payload) + 2, kind) + payload

def string(text):
    data = text.encode()
    return struct.pack(">H", len(data)) + data

def hello(name="attacker"):
    return frame(0x0001, b"SYNC" + struct.pack(">HH", 1, 1) + string(name))

def request(kind, rid, body=b""):
    return frame(kind, struct.pack(">I", rid) + body)

def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    return s

def read_frames(s, until_bytes=None, deadline=5.0):
    """Reads until EOF or the deadline; returns (frames by type, bytes read)."""
    end = time.time() + deadline
    got, kinds, buf = 0, {}, b""
    while time.time() < end:
        try:
            chunk = s.recv(65536)
        except (socket.timeout, OSError):
            break
        if not chunk:
            break
        got += len(chunk)
        buf += chunk
        while len(buf) >= 6:
            length, kind = struct.unpack(">IH", buf[:6])
            if len(buf) < 4 + length:
                break
            kinds[kind] = kinds.get(kind, 0) + 1
            buf = buf[4 + length:]
        if until_bytes is not None and sum(kinds.values()) >= until_bytes:
            break
    return kinds, got

def main():
    path, mode = sys.argv[1], sys.argv[2]
    if mode == "hold":
        n, held, refused = int(sys.argv[3]), [], 0
        for _ in range(n):
            try:
                s = connect(path)
                s.sendall(hello())
                kinds, _ = read_frames(s, until_bytes=1, deadline=2)
                if 0x0002 in kinds:
                    held.append(s)
                else:
                    refused += 1
                    s.close()
            except OSError:
                refused += 1
        print(json.dumps({"held": len(held), "refused": refused}), flush=True)
        sys.stdin.read()  # hold them until the test says stop
    elif mode == "errors":
        n = int(sys.argv[3])
        s = connect(path)
        s.sendall(hello())
        names = struct.pack(">H", 10000) + string("demo") * 10000  # 60 KB, under the 64 KiB frame cap
        try:
            s.sendall(b"".join(request(0x0047, i + 1, names) for i in range(n)))
        except OSError:
            pass  # the server said goodbye and closed mid-flood: read what it said
        kinds, got = read_frames(s, deadline=20)
        print(json.dumps({"answers": kinds.get(0x0053, 0), "replies": kinds.get(0x0050, 0),
                          "goodbyes": kinds.get(0x0003, 0), "bytes": got}), flush=True)
    elif mode == "pause":
        n = int(sys.argv[3])
        s = connect(path)
        s.sendall(hello())
        s.sendall(b"".join(request(0x0044, i + 1, string("demo")) for i in range(n)))
        kinds, got = read_frames(s, until_bytes=n + 1, deadline=20)
        print(json.dumps({"replies": kinds.get(0x0050, 0)}), flush=True)
    elif mode == "fuzz":
        rng, n = random.Random(int(sys.argv[3])), int(sys.argv[4])
        valid = [hello(), request(0x0040, 1, struct.pack(">H", 0) + b"\x00"), request(0x0041, 2, struct.pack(">H", 1) + string("demo")),
                 request(0x0047, 3, struct.pack(">H", 1) + string("demo")), request(0x0044, 4, string("demo"))]
        sent, connections = 0, 0
        end = time.time() + 120
        while sent < n and time.time() < end:
            try:
                s = connect(path)
            except OSError:
                time.sleep(0.01)
                continue
            connections += 1
            batch = [hello()]
            for _ in range(rng.randint(1, 200)):
                f = bytearray(rng.choice(valid))
                for _ in range(rng.randint(0, 3)):
                    f[rng.randrange(len(f))] = rng.randrange(256)
                batch.append(bytes(f))
            sent += len(batch)
            try:
                s.sendall(b"".join(batch))
                s.settimeout(0.2)
                read_frames(s, deadline=0.2)
            except OSError:
                pass
            s.close()
        print(json.dumps({"frames": sent, "connections": connections}), flush=True)

main()
