#!/usr/bin/env python3
"""Push latency, measured from outside: helper of Benchmarks/push-latency.sh.

    push-latency.py append PORT MAILDIR COUNT [GAP [OBSERVE]]  APPEND by another client → file in MAILDIR
                                                     (inotify), 0.1 s to GAP s (0.6) after the last one
                                                     arrived; OBSERVE=1: also from a third client's IDLE
                                                     hearing of it to the file
    push-latency.py flag PORT MAILDIR COUNT        a flag set in MAILDIR → on the server (a NOOP every 10 ms
                                                   of another client sees it), and the FETCH seen by a third
                                                   client's IDLE; prints both per line

Prints one latency in seconds per line, then nothing else. Stdlib only (inotify through ctypes).
"""
import ctypes, os, random, socket, struct, sys, time

IN_MOVED_TO, IN_CREATE = 0x80, 0x100
libc = ctypes.CDLL("libc.so.6", use_errno=True)


class Inotify:
    def __init__(self, directories):
        self.fd = libc.inotify_init1(0)
        for d in directories:
            if libc.inotify_add_watch(self.fd, d.encode(), IN_MOVED_TO | IN_CREATE) < 0:
                raise OSError(ctypes.get_errno(), d)

    def wait(self, timeout):
        """Blocks until a file arrives; returns when (time.monotonic()) or None on timeout."""
        import select
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return None
        when = time.monotonic()
        os.read(self.fd, 65536)
        return when


class IMAP:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")
        self.f.readline()
        self.n = 0
        self.cmd("LOGIN alice secret")

    def cmd(self, line, literal=None):
        return self.lines(line, literal)[-1]

    def lines(self, line, literal=None):
        """Every line of the answer, the tagged one last."""
        self.n += 1
        tag = f"t{self.n}"
        if literal is None:
            self.s.sendall(f"{tag} {line}\r\n".encode())
        else:
            self.s.sendall(f"{tag} {line} {{{len(literal)}}}\r\n".encode())
            self.f.readline()                      # "+ OK"
            self.s.sendall(literal + b"\r\n")
        out = []
        while True:
            l = self.f.readline()
            out.append(l)
            if l.startswith(tag.encode() + b" "):
                return out


def message(i):
    return (f"From: Bench <bench@example.org>\r\nTo: alice@example.org\r\nSubject: push {i}\r\n"
            f"Message-ID: <push-{i}-{random.getrandbits(32)}@example.org>\r\n"
            f"Date: Wed, 25 Nov 2026 10:00:00 +0000\r\n\r\nbody {i}\r\n").encode()


def append(port, maildir, count, gap=0.6, observe=0):
    """With observe=1, a second client IDLEs beside: when it hears of the APPEND is when the
    server told its push clients (Dovecot: 500 ms after the change, NOTIFY_DELAY_MSECS), so the
    line also gives the time from there to the file (syncd's own share)."""
    import select
    watch = Inotify([maildir + "/new", maildir + "/cur"])
    client = IMAP(port)
    observer = None
    if observe:
        observer = IMAP(port)
        observer.cmd("SELECT INBOX")
        observer.s.sendall(b"i IDLE\r\n")
        observer.f.readline()                      # "+ idling"
        observer.s.setblocking(False)
    for i in range(count):
        time.sleep(random.uniform(0.1, gap))
        if observer:
            try:
                while observer.s.recv(65536):      # what came since: not this APPEND's
                    pass
            except BlockingIOError:
                pass
        sent = time.monotonic()
        client.cmd("APPEND INBOX ()", message(i))
        arrived = notified = None
        while arrived is None or (observer and notified is None):
            waiting = [] if arrived is not None else [watch.fd]
            if observer and notified is None:
                waiting.append(observer.s)
            r, _, _ = select.select(waiting, [], [], max(0, sent + 300 - time.monotonic()))
            if not r:
                break
            now = time.monotonic()
            if watch.fd in r:
                os.read(watch.fd, 65536)
                arrived = now
            if observer and observer.s in r and b"EXISTS" in observer.s.recv(65536):
                notified = now
        if arrived is None:
            print("timeout", flush=True)
            continue
        print(f"{arrived - sent:.4f}" + (f" {arrived - notified:.4f}" if observer and notified else ""), flush=True)
        # A run writes more than one entry (the rename into cur/ ...): drain them.
        while watch.wait(0.05) is not None:
            pass


def flag(port, maildir, count):
    # Dovecot tells an IDLE client of another session's change only after a fixed 500 ms
    # (NOTIFY_DELAY_MSECS in its mailbox-watch.c), so when the change reached the server is seen
    # by a client asking: a NOOP every 10 ms, which Dovecot answers with the FETCH at once.
    poller = IMAP(port)
    poller.cmd("SELECT INBOX")
    client = IMAP(port)
    client.cmd("SELECT INBOX")
    client.s.sendall(b"i IDLE\r\n")
    client.f.readline()                            # "+ idling"
    cur = maildir + "/cur"
    files = sorted(f for f in os.listdir(cur) if ":2," in f and "F" not in f.split(":2,")[1])
    for name in files[:count]:
        time.sleep(random.uniform(0.5, 1.0))       # past the run's own-write grace
        base, flags = name.split(":2,")
        changed = time.monotonic()
        os.rename(f"{cur}/{name}", f"{cur}/{base}:2,{''.join(sorted(flags + 'F'))}")
        while not any(b"FETCH" in l and b"\\Flagged" in l for l in poller.lines("NOOP")):
            if time.monotonic() - changed > 60:
                break
            time.sleep(0.01)
        on_server = time.monotonic() - changed
        client.s.settimeout(60)
        while True:
            l = client.f.readline()
            if b"FETCH" in l and b"\\Flagged" in l:
                print(f"{on_server:.4f} {time.monotonic() - changed:.4f}", flush=True)
                break


if __name__ == "__main__":
    mode, port, maildir, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    extra = [float(a) for a in sys.argv[5:]]
    {"append": append, "flag": flag}[mode](port, maildir, count, *extra)
