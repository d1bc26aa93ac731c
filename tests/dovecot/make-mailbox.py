#!/usr/bin/env python3
"""Fills a Dovecot Maildir++ mailbox with generated messages, straight on disk (fast: Dovecot
indexes names that carry ,S= and ,W= without reading the files).

    make-mailbox.py MAILDIR [--messages N] [--first I] [--seed S] [--folders "INBOX,Sent,Archiv/2024,Entwürfe"]
                    [--max-size BYTES] [--body lorem|mixed]

Sizes follow a realistic mix (most a few KB, some hundreds of KB, a few MB; ~17 KB on average,
so 10 000 messages make ~170 MB). Flags are spread over Seen/Flagged/Replied. Prints a JSON
summary (per folder: count, bytes) so tests can check a sync against it.
"""
import argparse, json, os, random, time


def mutf7(name):
    """IMAP modified UTF-7 (RFC 3501 5.1.3), as Dovecot's Maildir++ layout names folders."""
    out, pending = [], []

    def flush():
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            import base64
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def folder_dir(root, folder):
    if folder == "INBOX":
        return root
    return os.path.join(root, "." + ".".join(mutf7(part) for part in folder.split("/")))


def size_for(rng):
    r = rng.random()
    if r < 0.75:
        return rng.randint(1_000, 8_000)
    if r < 0.95:
        return rng.randint(8_000, 40_000)
    if r < 0.998:
        return rng.randint(40_000, 150_000)
    return rng.randint(1_000_000, 3_000_000)


WORDS = None


def mixed_body(rng, length):
    """Text from a 2 000-word vocabulary (first 6 KB at most), then a base64 MIME attachment of random bytes."""
    global WORDS
    if WORDS is None:
        letters = "etaoinshrdlucmfwypvbgkjqxz"
        WORDS = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(2000)]
    text_length = length if length <= 8_000 else 6_000
    out, width = [], 0
    while width < text_length:
        word = rng.choice(WORDS)
        out.append(word)
        width += len(word) + 1
        if len(out) % 12 == 0:
            out.append("\r\n")
    # Never a bare CR where a line end was cut.
    text = " ".join(out).replace(" \r\n ", "\r\n").encode()[:text_length].rstrip(b"\r")
    if length <= 8_000:
        return text
    import base64
    raw = rng.randbytes((length - text_length) * 3 // 4)
    encoded = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    return text + b"\r\n\r\n" + encoded[: length - text_length - 4].rstrip(b"\r")


def message(rng, folder, i, size, body_kind="lorem"):
    header = (
        f"From: Sender {i} <sender{i % 97}@example.org>\r\n"
        f"To: alice@example.org\r\n"
        f"Subject: {folder} message {i}\r\n"
        f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime(1700000000 + i * 61))}\r\n"
        f"Message-ID: <{folder.replace('/', '.')}.{i}@example.org>\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    ).encode()
    if body_kind == "mixed":
        return header + mixed_body(rng, max(0, size - len(header)))
    line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit; sed do eiusmod tempor.\r\n"
    body = (line * (max(0, size - len(header)) // len(line) + 1))[: max(0, size - len(header))]
    return header + body


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("maildir")
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--first", type=int, default=0, help="index of the first message (to add more later)")
    parser.add_argument("--folders", default="INBOX,Sent,Archiv/2024,Entwürfe")
    parser.add_argument("--max-size", type=int, default=0, help="cap each message at this many bytes (0: no cap)")
    parser.add_argument("--body", choices=("lorem", "mixed"), default="lorem",
                        help="lorem: one repeated line (compresses ~100x); mixed: text of random words, and above"
                             " 8 KB a base64 attachment of random bytes (as images and PDFs are): for COMPRESS figures")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    folders = args.folders.split(",")
    summary = {}
    host = "generated"
    for index in range(args.first, args.first + args.messages):
        # Half the mail in the first folder (INBOX), the rest spread over the others.
        folder = folders[0] if index % 2 == 0 or len(folders) == 1 else folders[1 + (index // 2) % (len(folders) - 1)]
        directory = folder_dir(args.maildir, folder)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(directory, sub), exist_ok=True)
        if folder != "INBOX":
            open(os.path.join(directory, "maildirfolder"), "a").close()
        size = size_for(rng)
        data = message(rng, folder, index, min(size, args.max_size) if args.max_size else size, args.body)
        flags = "".join(f for f, p in (("F", 0.05), ("R", 0.2), ("S", 0.6)) if rng.random() < p)
        wsize = len(data)  # already CRLF
        name = f"{1700000000 + index}.M{index}P1.{host},S={len(data)},W={wsize}:2,{flags}"
        with open(os.path.join(directory, "cur", name), "wb") as f:
            f.write(data)
        entry = summary.setdefault(folder, {"messages": 0, "bytes": 0})
        entry["messages"] += 1
        entry["bytes"] += len(data)
    print(json.dumps(summary, ensure_ascii=False, sort_keys=True))


if __name__ == "__main__":
    main()
