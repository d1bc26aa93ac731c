#!/usr/bin/env python3
"""A small syncd viewer, written from docs/PROTOCOL.md alone (Python 3 stdlib only).

    viewer.py --socket PATH [--store NAME]... [--since N] [--count N] [--client NAME]
              [--heartbeat SECONDS [--show-pings]]
    viewer.py --decode FILE...

Socket mode prints one line per frame received. Exit status: 0 after --count events,
3 after a Goodbye, 4 when the server closes without one, 5 when a heartbeat Ping goes
unanswered (the daemon hangs), 1 on a protocol error.
"""
import argparse
import functools
import json
import re
import select
import socket
import struct
import sys

MAX_FRAME = 16 * 1024 * 1024     # the length cap we accept from the server (§1)
PROTOCOL_VERSION = 1

STATUS_NAMES = {
    0x00000000: "ok", 0x00040680: "partial", 0x00040A00: "warning",
    0x80004005: "failed", 0x80070005: "permission-denied", 0x80070057: "invalid-argument",
    0x8004010B: "busy", 0x8004010F: "not-found", 0x80040110: "unsupported-version",
    0x80040111: "auth-failed", 0x80040113: "cancelled", 0x80040115: "network",
    0x80040116: "storage", 0x8004011B: "protocol", 0x80040401: "timeout",
    0x80040A01: "config", 0x80040A02: "stalled", 0x80040A03: "provider-failed",
    0x80040A04: "paused", 0x80040A05: "shutting-down", 0x80040A06: "auth-required", 0x80040A10: "malformed-frame",
    0x80040A11: "frame-too-large", 0x80040A12: "handshake-timeout", 0x80040A13: "too-slow",
    0x80040A14: "too-many-viewers", 0x80040A15: "unexpected-message",
}
TRIGGERS = {0: "schedule", 1: "on-demand", 2: "startup", 3: "retry", 4: "push"}
PUSH_STATES = {0: "off", 1: "listening", 2: "reconnecting", 3: "not-offered", 4: "offline"}
ACCESS = {0: "watch", 1: "control"}
MODES = {0: "snapshot", 1: "replay", 2: "resync"}
EVENT_TYPES = range(0x0010, 0x0017)


class ProtocolError(Exception):
    pass


class Payload:
    """Reads the fields of one frame's payload, in order (§2)."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ProtocolError("payload is shorter than its fields")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def u8(self):  return self.take(1)[0]
    def u16(self): return struct.unpack(">H", self.take(2))[0]
    def u32(self): return struct.unpack(">I", self.take(4))[0]
    def u64(self): return struct.unpack(">Q", self.take(8))[0]

    def string(self):
        return self.take(self.u16()).decode("utf-8", errors="replace")

    def opt_string(self):
        marker = self.u8()
        if marker == 0:
            return None
        if marker == 1:
            return self.string()
        raise ProtocolError(f"opt-string marker {marker} is neither 0 nor 1")

    def string_list(self):
        return [self.string() for _ in range(self.u16())]

    def remaining(self):
        """Bytes after the fields read so far: fields a newer server appended (§9)."""
        return len(self.data) - self.pos


# ---- formatting helpers -------------------------------------------------------------------

def q(text):
    return json.dumps(text)


def status(code):
    name = STATUS_NAMES.get(code)
    return f"0x{code:08X}" + (f" ({name})" if name else "")


def named(table, value):
    return table.get(value, str(value))


# ---- one decoding function per message kind; each returns a list of lines -----------------

def decode_hello(p):
    magic = p.u32()
    if magic != 0x53594E43:
        raise ProtocolError(f"hello magic is 0x{magic:08X}, not 0x53594E43 (\"SYNC\")")
    low, high, client = p.u16(), p.u16(), p.string()
    return [f"hello versions={low}-{high} client={q(client)}"]


def decode_welcome(p):
    version, access, seq, server = p.u16(), p.u8(), p.u64(), p.string()
    return [f"welcome version={version} access={named(ACCESS, access)} seq={seq} server={q(server)}"]


def decode_goodbye(p):
    code, message = p.u32(), p.string()
    return [f"goodbye code={status(code)} message={q(message)}"]


def store_facts(p):
    """The StoreChanged fields: provider, bits, last result, three optional times (§4.4)."""
    provider, bits, last_result = p.string(), p.u8(), p.u32()
    p.u64(), p.u64(), p.u64()          # last run ended, last success, next run: not shown
    last = status(last_result) if bits & 0x04 else "-"
    return provider, bits, last


def schedule(p):
    """Queue place, retry, retry reason, interval, flags (§4.4, added in 0.2), as text."""
    place, retry, reason = p.u32(), p.u32(), p.opt_string()
    interval, flags = p.u32(), p.u32()
    text = f" queued={place}" if place else ""
    if retry:
        text += f" retry={retry} reason={q(reason or '')}"
    return text + f" interval={interval}s flags=0x{flags:08X}"


def push(p):
    """Push state, push detail, outbox depth, outbox oldest (§4.4, added in 0.4), as text."""
    state, detail, depth, _oldest = p.u8(), p.opt_string(), p.u32(), p.u64()
    text = f" push={named(PUSH_STATES, state)}" if state else ""
    if detail is not None:
        text += f" push-detail={q(detail)}"
    return text + (f" outbox={depth}" if depth else "")


def decode_event(kind, p):
    seq, _time, run, store = p.u64(), p.u64(), p.u64(), p.string()
    head = f"event seq={seq} store={q(store)} run={run}"
    if kind == 0x0010:
        flags, trigger = p.u32(), p.u8()
        return [f"{head} run-started flags=0x{flags:08X} trigger={named(TRIGGERS, trigger)}"]
    if kind == 0x0011:
        index, maximum, step = p.u32(), p.u32(), p.opt_string()
        step_text = "-" if step is None else q(step)
        merged = p.u32() if p.remaining() >= 4 else 1
        extra = f" callbacks={merged}" if merged != 1 else ""
        return [f"{head} progress index={index} max={maximum} step={step_text}{extra}"]
    if kind == 0x0012:
        code, message = p.u32(), p.string()
        severity = "error" if code & 0x80000000 else "warning"
        return [f"{head} error code={status(code)} severity={severity} message={q(message)}"]
    if kind == 0x0013:
        return [f"{head} done result={status(p.u32())}"]
    if kind == 0x0014:
        provider, bits, last = store_facts(p)
        extra = schedule(p) if p.remaining() else ""
        extra += push(p) if p.remaining() else ""
        return [f"{head} store-changed provider={q(provider)} paused={bits & 1} "
                f"stalled={(bits >> 1) & 1} last-result={last}{extra}"
                + (" auth-required=1" if bits & 0x08 else "")]
    if kind == 0x0016:
        folder, count, shown = p.string(), p.u32(), p.u8()
        lines = [f"{head} new-messages folder={q(folder)} count={count}"]
        for _ in range(shown):
            sender, subject, date = p.string(), p.string(), p.u64()
            lines.append(f"  message from={q(sender)} subject={q(subject)} date={date // 1000000 if date else '-'}")
        return lines
    return [f"{head} store-removed"]                       # 0x0015


def decode_snapshot(p):
    """seq, count, then each store (§4.5). Returns the snapshot's lines."""
    seq, count = p.u64(), p.u32()
    lines = [f"snapshot seq={seq} stores={count}"]
    for _ in range(count):
        name = p.string()
        provider, _bits, last = store_facts(p)
        run = p.u64()
        if run == 0:
            lines.append(f"  store {q(name)} provider={q(provider)} idle last-result={last}")
            continue
        _flags, _trigger, _started = p.u32(), p.u8(), p.u64()
        index, maximum, step = p.u32(), p.u32(), p.opt_string()
        _warnings, _errors = p.u32(), p.u32()
        step_text = "-" if step is None else q(step)
        lines.append(f"  store {q(name)} provider={q(provider)} run={run} "
                     f"index={index} max={maximum} step={step_text}")
    if p.remaining():                  # one schedule per store, after all records (0.2)
        for i in range(count):
            lines[i + 1] += schedule(p)
    if p.remaining():                  # one push section per store, after the schedules (0.4)
        for i in range(count):
            lines[i + 1] += push(p)
    return lines


def decode_request(kind, p):
    head = f"request id={p.u32()}"
    if kind == 0x0040:
        has_since, since, stores = p.u8(), p.u64(), p.string_list()
        if has_since not in (0, 1):
            raise ProtocolError(f"subscribe has-since is {has_since}, not 0 or 1")
        since_text = str(since) if has_since else "-"
        return [f"{head} subscribe since={since_text} stores={json.dumps(stores)}"]
    if kind == 0x0041:
        return [f"{head} status stores={json.dumps(p.string_list())}"]
    if kind == 0x0042:
        store, flags = p.string(), p.u32()
        return [f"{head} sync-now store={q(store)} flags=0x{flags:08X}"]
    if kind in (0x0043, 0x0044, 0x0045):
        verb = {0x0043: "cancel", 0x0044: "pause", 0x0045: "resume"}[kind]
        return [f"{head} {verb} store={q(p.string())}"]
    if kind == 0x0047:
        return [f"{head} errors stores={json.dumps(p.string_list())}"]
    if kind == 0x0048:
        return [f"{head} ping"]
    if kind == 0x0049:
        return [f"{head} runs stores={json.dumps(p.string_list())}"]
    if kind == 0x004A:
        return [f"{head} login store={q(p.string())}"]
    return [f"{head} reload"]                              # 0x0046


def decode_reply(p):
    rid, code, message = p.u32(), p.u32(), p.string()
    return [f"reply id={rid} status={status(code)} message={q(message)}"]


def decode_subscribed(p):
    rid, mode, since, oldest = p.u32(), p.u8(), p.u64(), p.u64()
    line = f"subscribed id={rid} mode={named(MODES, mode)}"
    if mode == 0:
        return [line]
    if mode == 1:
        return [f"{line} since={since}"]
    return [f"{line} since={since} oldest={oldest}"]


def decode_status_reply(p):
    lines = [f"status-reply id={p.u32()}"] + decode_snapshot(p)
    if p.remaining():                  # the server's viewers, after the snapshot (0.5)
        lines.append(f"  viewers watching={p.u32()} dropped-too-slow={p.u64()}")
    return lines


def decode_error_history(p):
    lines = [f"error-history id={p.u32()}"]
    for _ in range(p.u32()):
        store, run, _time, code, message = p.string(), p.u64(), p.u64(), p.u32(), p.string()
        lines.append(f"  error store={q(store)} run={run} code={status(code)} message={q(message)}")
    return lines


def decode_run_history(p):
    lines = [f"run-history id={p.u32()}"]
    for _ in range(p.u32()):
        store, run, flags, trigger = p.string(), p.u64(), p.u32(), p.u8()
        started, ended, result, warnings, errors = p.u64(), p.u64(), p.u32(), p.u32(), p.u32()
        seconds = (ended - started) / 1e6
        lines.append(f"  run store={q(store)} run={run} flags=0x{flags:08X} "
                     f"trigger={named(TRIGGERS, trigger)} seconds={seconds:g} result={status(result)} "
                     f"warnings={warnings} errors={errors}")
    return lines


DECODERS = {0x0001: decode_hello, 0x0002: decode_welcome, 0x0003: decode_goodbye,
            0x0020: decode_snapshot, 0x0050: decode_reply, 0x0051: decode_subscribed,
            0x0052: decode_status_reply, 0x0053: decode_error_history, 0x0054: decode_run_history}
DECODERS.update({k: functools.partial(decode_event, k) for k in EVENT_TYPES})
DECODERS.update({k: functools.partial(decode_request, k) for k in range(0x0040, 0x004B)})


def decode_frame(kind, payload):
    """Lines for one frame. Unknown types are skipped; bytes after known fields are ignored."""
    if kind not in DECODERS:
        return [f"skipped type=0x{kind:04X}"]
    return DECODERS[kind](Payload(payload))


def check_length(length):
    if length < 2:
        raise ProtocolError(f"frame length {length} is below 2")
    if length > MAX_FRAME:
        raise ProtocolError(f"frame length {length} is over the {MAX_FRAME}-byte cap")


# ---- building frames (viewer -> server) ---------------------------------------------------

def enc_string(text):
    data = text.encode("utf-8")
    if len(data) > 0xFFFF:             # cut at a character boundary (§2)
        data = data[:0xFFFF].decode("utf-8", errors="ignore").encode("utf-8")
    return struct.pack(">H", len(data)) + data


def frame(kind, payload):
    return struct.pack(">IH", len(payload) + 2, kind) + payload


def hello_frame(client):
    return frame(0x0001, struct.pack(">IHH", 0x53594E43, PROTOCOL_VERSION, PROTOCOL_VERSION)
                 + enc_string(client))


def ping_frame(request_id):
    return frame(0x0048, struct.pack(">I", request_id))


def subscribe_frame(request_id, since, stores):
    body = struct.pack(">IBQ", request_id, since is not None, since or 0)
    body += struct.pack(">H", len(stores)) + b"".join(enc_string(s) for s in stores)
    return frame(0x0040, body)


# ---- socket mode --------------------------------------------------------------------------

class Closed(Exception):
    pass


class SocketReader:
    """Reads exact byte counts from a stream socket."""

    def __init__(self, sock):
        self.sock = sock

    def exactly(self, n):
        chunks, got = [], 0
        while got < n:
            try:
                chunk = self.sock.recv(min(n - got, 1 << 20))
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                if got:
                    print(f"viewer.py: connection closed inside a frame ({got} of {n} bytes)",
                          file=sys.stderr)
                raise Closed()
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def frame(self):
        length = struct.unpack(">I", self.exactly(4))[0]
        check_length(length)              # before reading the body
        kind = struct.unpack(">H", self.exactly(2))[0]
        return kind, self.exactly(length - 2)


def send(sock, data):
    """Send a frame; if the server has already closed, the read loop will find out."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


def emit(lines):
    for line in lines:
        print(line, flush=True)


def run_socket(args):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(args.socket)
    except OSError as e:
        sys.exit(f"viewer.py: cannot connect to {args.socket}: {e}")
    reader = SocketReader(sock)
    send(sock, hello_frame(args.client))
    welcomed, events = False, 0
    ping_id, next_id = None, 100      # the request id of the unanswered Ping, if any
    try:
        while args.count is None or events < args.count:
            # The heartbeat: after a quiet spell, a Ping; a second spell without its answer
            # means the daemon hangs (a quiet daemon answers at once).
            if args.heartbeat and not select.select([sock], [], [], args.heartbeat)[0]:
                if not welcomed or ping_id is not None:
                    what = "a ping" if welcomed else "hello"
                    print(f"viewer.py: syncd did not answer {what} within {args.heartbeat:g}s",
                          file=sys.stderr, flush=True)
                    return 5
                ping_id, next_id = next_id, next_id + 1
                send(sock, ping_frame(ping_id))
                continue
            kind, payload = reader.frame()
            if kind == 0x0050 and ping_id is not None and Payload(payload).u32() == ping_id:
                ping_id = None
                if not args.show_pings:
                    continue
            emit(decode_frame(kind, payload))
            if kind == 0x0003:
                return 3
            if not welcomed and kind == 0x0002:
                if Payload(payload).u16() != PROTOCOL_VERSION:
                    raise ProtocolError("server chose a version this viewer does not speak")
                welcomed = True
                send(sock, subscribe_frame(1, args.since, args.store))
            elif not welcomed and kind in DECODERS:
                raise ProtocolError(f"expected Welcome or Goodbye, got type 0x{kind:04X}")
            if kind in EVENT_TYPES:
                events += 1
    except Closed:
        print("closed", flush=True)
        return 4
    finally:
        sock.close()
    return 0


# ---- decode mode --------------------------------------------------------------------------

def read_hex_file(path):
    with open(path, encoding="utf-8") as f:
        text = "".join(line.split("#", 1)[0] for line in f)
    digits = re.sub(r"\s+", "", text)
    if len(digits) % 2:
        raise ProtocolError("odd number of hex digits")
    try:
        return bytes.fromhex(digits)
    except ValueError:
        raise ProtocolError("not hex digits") from None


def run_decode(paths):
    for path in paths:
        try:
            data, pos = read_hex_file(path), 0
            while pos < len(data):
                if len(data) - pos < 6:
                    raise ProtocolError(f"truncated frame header at byte {pos}")
                length, kind = struct.unpack_from(">IH", data, pos)
                check_length(length)
                if pos + 4 + length > len(data):
                    raise ProtocolError(f"frame at byte {pos} needs {length} bytes after its "
                                        f"length, only {len(data) - pos - 4} remain")
                emit(decode_frame(kind, data[pos + 6:pos + 4 + length]))
                pos += 4 + length
        except (OSError, ProtocolError) as e:
            sys.exit(f"viewer.py: {path}: {e}")
    return 0


def number(text):
    value = int(text)
    if not 0 <= value < 2**64:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 2^64-1")
    return value


def main():
    ap = argparse.ArgumentParser(description="Show the event stream of syncd.")
    ap.add_argument("--socket", help="the daemon's Unix socket")
    ap.add_argument("--store", action="append", default=[], help="subscribe to this store")
    ap.add_argument("--since", type=number, help="replay events after this sequence number")
    ap.add_argument("--count", type=number, help="exit 0 after this many events")
    ap.add_argument("--client", default="viewer.py", help="client name sent in Hello")
    ap.add_argument("--heartbeat", type=float, metavar="SECONDS",
                    help="ping after this long without a frame; exit 5 if the ping goes unanswered as long")
    ap.add_argument("--show-pings", action="store_true", help="print the answers to heartbeat pings")
    ap.add_argument("--decode", nargs="+", metavar="FILE", help="decode hex test vectors")
    args = ap.parse_args()
    if args.decode:
        return run_decode(args.decode)
    if not args.socket:
        ap.error("one of --socket or --decode is required")
    try:
        return run_socket(args)
    except ProtocolError as e:
        print(f"viewer.py: protocol error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
