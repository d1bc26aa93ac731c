#!/usr/bin/env python3
"""Changes and reads a test IMAP server's mailboxes over IMAP, as another mail client would (for a
server whose store the tests cannot write directly, e.g. Cyrus). Folder names on the command line
are the tests' generic ones ("Archiv/2024", "Entwürfe"); they are mapped to the server's through
its NAMESPACE (personal prefix, e.g. "INBOX.") and hierarchy delimiter.

    imap.py --port P [--user U] create NAME           CREATE a raw (server-syntax) name
    imap.py --port P populate --messages N [--first I] [--seed S] [--folders "INBOX,Sent,..."]
                                 APPENDs the messages tests/dovecot/make-mailbox.py would write
    imap.py --port P dump DIR    writes every folder as a Maildir++ tree in DIR (names: the server's
                                 hierarchy, modified UTF-7 components joined by "."; files
                                 UID:2,FLAGS) so the tests compare it like Dovecot's own Maildir
    imap.py --port P delete FOLDER
    imap.py --port P deny-read FOLDER | allow-read FOLDER   (the user's own ACL on it)
    imap.py --port P renumber    recreates the user's mailboxes (as the admin) with the same
                                 messages, flags and dates: every folder gets a new UIDVALIDITY
Passwords are "secret"; the admin is "cyrus".
"""
import argparse, importlib.util, imaplib, os, random, re, socket, sys

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("make_mailbox", os.path.join(here, "..", "dovecot", "make-mailbox.py"))
make_mailbox = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_mailbox)

FLAG_LETTERS = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S", "\\Deleted": "T"}
LETTER_FLAGS = {v: k for k, v in FLAG_LETTERS.items()}


def quote(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def check(answer, what):
    typ, data = answer
    if typ != "OK":
        sys.exit(f"{what}: {typ} {data}")
    return data


class Server:
    def __init__(self, port, user):
        self.port, self.user = port, user
        self.imap = imaplib.IMAP4("127.0.0.1", port)
        check(self.imap.login(user, "secret"), "LOGIN " + user)
        data = check(self.imap.list('""', '""'), "LIST")
        m = re.match(rb'\(.*?\) (NIL|"(.*?)") ', data[0])
        self.delimiter = m.group(2).decode() if m.group(2) is not None else None
        self.prefix = ""
        if "NAMESPACE" in self.imap.capabilities:
            data = check(self.imap.namespace(), "NAMESPACE")
            m = re.match(rb'\(\("(.*?)"', data[0])
            if m:
                self.prefix = m.group(1).decode()

    def name(self, folder):
        """The server's (modified UTF-7) name of a generic folder name such as "Archiv/2024"."""
        if folder == "INBOX":
            return "INBOX"
        return self.prefix + self.delimiter.join(make_mailbox.mutf7(part) for part in folder.split("/"))

    def folders(self):
        """(raw name, selectable) of every folder the user sees."""
        out = []
        for line in check(self.imap.list('""', "*"), "LIST"):
            if line is None:
                continue
            m = re.match(rb'\((.*?)\) (?:NIL|".*?") (.*)$', line)
            attributes, name = m.group(1).decode().lower(), m.group(2).decode()
            if name.startswith('"'):
                name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            out.append((name, "\\noselect" not in attributes and "\\nonexistent" not in attributes))
        return out

    def messages(self, raw):
        """[(uid, flags, internaldate, bytes)] of a folder."""
        check(self.imap.select(quote(raw), readonly=True), "EXAMINE " + raw)
        typ, data = self.imap.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])")
        if typ != "OK":
            sys.exit(f"FETCH {raw}: {data}")
        out = []
        for item in data:
            if not isinstance(item, tuple):
                continue
            head = item[0].decode()
            uid = int(re.search(r"UID (\d+)", head).group(1))
            flags = re.search(r"FLAGS \((.*?)\)", head).group(1).split()
            date = re.search(r'INTERNALDATE ("[^"]*")', head).group(1)
            out.append((uid, flags, date, item[1]))
        self.imap.close()
        return out

    def create(self, raw):
        check(self.imap.create(quote(raw)), "CREATE " + raw)

    def append(self, raw, messages):
        """APPENDs [(flags "(...)", date '"..."', bytes)] to a folder: MULTIAPPEND with LITERAL+ in
        one write when the server has both (Cyrus fsyncs every APPEND: 20 ms each, one per batch)."""
        if not {"MULTIAPPEND", "LITERAL+"} <= set(self.imap.capabilities):
            for flags, date, data in messages:
                check(self.imap.append(quote(raw), flags, date, data), "APPEND " + raw)
            return
        with socket.create_connection(("127.0.0.1", self.port)) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            reader = s.makefile("rb")

            def run(tag, command):
                s.sendall(command)
                while True:
                    line = reader.readline()
                    if not line or line.startswith(tag + b" "):
                        if not line.startswith(tag + b" OK"):
                            sys.exit(f"{command[:80]!r}: {line!r}")
                        return

            reader.readline()  # greeting
            run(b"a", b"a LOGIN %s secret\r\n" % self.user.encode())
            for start in range(0, len(messages), 200):
                command = b"b APPEND " + quote(raw).encode()
                for flags, date, data in messages[start:start + 200]:
                    command += b" %s %s {%d+}\r\n%s" % (flags.encode(), date.encode(), len(data), data)
                run(b"b", command + b"\r\n")
            run(b"c", b"c LOGOUT\r\n")


def populate(server, args):
    rng = random.Random(args.seed)
    folders = args.folders.split(",")
    existing = {name for name, _ in server.folders()}
    batches = {}
    for index in range(args.first, args.first + args.messages):
        # As make-mailbox.py: the same folders, messages and flags for the same arguments.
        folder = folders[0] if index % 2 == 0 or len(folders) == 1 else folders[1 + (index // 2) % (len(folders) - 1)]
        raw = server.name(folder)
        if raw not in existing:
            server.create(raw)
            existing.add(raw)
        data = make_mailbox.message(rng, folder, index, make_mailbox.size_for(rng))
        letters = "".join(f for f, p in (("F", 0.05), ("R", 0.2), ("S", 0.6)) if rng.random() < p)
        flags = "(" + " ".join(LETTER_FLAGS[letter] for letter in letters) + ")"
        batches.setdefault(raw, []).append((flags, imaplib.Time2Internaldate(1700000000 + index * 61), data))
    for raw, messages in batches.items():
        server.append(raw, messages)


def dump(server, directory):
    for raw, selectable in server.folders():
        if not selectable:
            continue
        parts = [raw] if server.delimiter is None else raw.split(server.delimiter)
        path = directory if raw.upper() == "INBOX" else os.path.join(directory, "." + ".".join(parts))
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(path, sub), exist_ok=True)
        for uid, flags, _, data in server.messages(raw):
            letters = "".join(sorted(FLAG_LETTERS[f] for f in flags if f in FLAG_LETTERS))
            with open(os.path.join(path, "cur", f"{uid}:2,{letters}"), "wb") as f:
                f.write(data)


def renumber(args):
    user = Server(args.port, args.user)
    saved = [(raw, user.messages(raw) if selectable else []) for raw, selectable in user.folders()]
    user.imap.logout()
    admin = Server(args.port, "cyrus")
    top = "user" + admin.delimiter + args.user
    # An admin may change any ACL, but needs the delete right ("x") like anyone else.
    check(admin.imap.setacl(quote(top), "cyrus", "lrswipkxtecda"), "SETACL " + top)
    check(admin.imap.delete(quote(top)), "DELETE " + top)
    admin.create(top)
    admin.imap.logout()
    user = Server(args.port, args.user)
    for raw, messages in saved:
        if raw.upper() != "INBOX":
            user.create(raw)
        user.append(raw, [("(" + " ".join(f for f in flags if f != "\\Recent") + ")", date, data)
                          for _, flags, date, data in messages])
    user.imap.logout()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", default="alice")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("create").add_argument("name")
    p = sub.add_parser("populate")
    p.add_argument("--messages", type=int, default=100)
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--folders", default="INBOX,Sent,Archiv/2024,Entwürfe")
    sub.add_parser("dump").add_argument("directory")
    for name in ("delete", "deny-read", "allow-read"):
        sub.add_parser(name).add_argument("folder")
    sub.add_parser("renumber")
    args = parser.parse_args()

    if args.command == "renumber":
        renumber(args)
        return
    server = Server(args.port, args.user)
    if args.command == "create":
        server.create(args.name)
    elif args.command == "populate":
        populate(server, args)
    elif args.command == "dump":
        dump(server, args.directory)
    elif args.command == "delete":
        check(server.imap.delete(quote(server.name(args.folder))), "DELETE " + args.folder)
    elif args.command in ("deny-read", "allow-read"):
        # The owner keeps lookup and administer rights (Cyrus's implicit owner rights): the folder
        # is still listed, but SELECT and STATUS are refused.
        rights = "lkxan" if args.command == "deny-read" else "lrswipkxtecdan"
        check(server.imap.setacl(quote(server.name(args.folder)), args.user, rights), "SETACL " + args.folder)
    server.imap.logout()


if __name__ == "__main__":
    main()
