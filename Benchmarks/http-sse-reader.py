#!/usr/bin/python3
"""Reader for Benchmarks/http-sse.sh: counts events and their delivery latency.

  http-sse-reader.py sse URL CLIENTS WARMUP SECONDS   N clients on URL/events (one process, selectors)
  http-sse-reader.py lines WARMUP SECONDS             one `syncctl watch --json` viewer on stdin

Latency = receipt time - the event's daemon timestamp (same host clock, ms resolution), taken
for the first event of every read() (the oldest in it: the worst case of that read). Prints one
JSON object: events/s per client (mean, min) and latency p50/p99 in ms over the measured window.
"""
import json, re, selectors, socket, sys, time
from datetime import datetime

TIME = re.compile(rb'"time":"([0-9T:.\-]+)Z"')


def stamp(raw):
    return datetime.fromisoformat(raw.decode() + "+00:00").timestamp()


def summary(counts, latencies, seconds):
    latencies.sort()
    pick = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1) if latencies else None
    rates = [c / seconds for c in counts]
    print(json.dumps({"clients": len(counts), "events_per_s_mean": round(sum(rates) / len(rates)), "events_per_s_min": round(min(rates)),
                      "p50_ms": pick(0.50), "p99_ms": pick(0.99), "samples": len(latencies)}))


def sse(url, clients, warmup, seconds):
    host, port = url.split("//")[1].split(":")
    port = int(port.strip("/"))
    sel = selectors.DefaultSelector()
    counts = [0] * clients
    for i in range(clients):
        s = socket.create_connection((host, port))
        s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
    latencies = []
    start = time.time()
    begin, end = start + warmup, start + warmup + seconds
    while (now := time.time()) < end:
        for key, _ in sel.select(timeout=0.5):
            chunk = key.fileobj.recv(1 << 20)
            if not chunk:
                sel.unregister(key.fileobj)
                continue
            if now < begin:
                continue
            counts[key.data] += chunk.count(b"\nid: ") + chunk.startswith(b"id: ")
            m = TIME.search(chunk)
            if m:
                latencies.append(now - stamp(m.group(1)))
    summary(counts, latencies, seconds)


def lines(warmup, seconds):
    import os
    fd = sys.stdin.fileno()
    count, latencies = 0, []
    start = time.time()
    begin, end = start + warmup, start + warmup + seconds
    while (now := time.time()) < end:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        if now < begin:
            continue
        count += chunk.count(b"\n")
        m = TIME.search(chunk)
        if m:
            latencies.append(now - stamp(m.group(1)))
    summary([count], latencies, seconds)


if sys.argv[1] == "sse":
    sse(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
else:
    lines(float(sys.argv[2]), float(sys.argv[3]))
