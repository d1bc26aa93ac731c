import MessageHeaders

/// The command line, parsed the way sendmail's is (`-fFROM` and `-f FROM`, `-oi`, `-o*` ignored),
/// plus syncd's own long options. Not ArgumentParser: sendmail's single-dash options with
/// attached values are not a shape it parses.
struct SendmailArguments: Equatable {
    /// `-t`: recipients from the message's To, Cc and Bcc (added to any given as arguments).
    var extractRecipients = false
    /// `-i`, `-oi`: a line of only "." is text, not the end of the message.
    var ignoreDots = false
    /// `-f FROM` (`-r`): the envelope sender.
    var sender: String?
    /// `-F NAME`: the full name for a From field the message lacks.
    var fullName: String?
    var store: String?
    var config: String?
    var socket: String?
    var recipients: [String] = []
    var help = false
    var version = false

    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    /// Options that take a value, which sendmail ignores here (`-B 8BITMIME`, `-N never`, ...).
    static let ignoredWithValue: Set<Character> = ["B", "N", "R", "V", "X", "L", "h", "p", "q"]

    static func parse(_ arguments: [String]) throws -> SendmailArguments {
        var result = SendmailArguments()
        var index = 0
        func value(_ option: String, attached: Substring) throws -> String {
            if !attached.isEmpty { return String(attached) }
            index += 1
            guard index < arguments.count else { throw UsageError(description: "\(option) needs a value") }
            return arguments[index]
        }
        func long(_ argument: String, _ name: String) throws -> String? {
            if argument == name { return try value(name, attached: "") }
            if argument.hasPrefix(name + "=") { return String(argument.dropFirst(name.count + 1)) }
            return nil
        }
        while index < arguments.count {
            let argument = arguments[index]
            defer { index += 1 }
            if argument == "--" {
                result.recipients += arguments[(index + 1)...]
                break
            }
            if let store = try long(argument, "--store") { result.store = store; continue }
            if let config = try long(argument, "--config") { result.config = config; continue }
            if let socket = try long(argument, "--socket") { result.socket = socket; continue }
            switch argument {
            case "--help", "-h": result.help = true; continue
            case "--version": result.version = true; continue
            case "-t": result.extractRecipients = true; continue
            case "-i", "-oi": result.ignoreDots = true; continue
            case "-bm", "-v", "-U", "-G", "-Am", "-Ac": continue  // the default mode, or no meaning here
            default: break
            }
            guard argument.hasPrefix("-"), argument.count > 1 else {
                result.recipients.append(argument)
                continue
            }
            let letter = argument.dropFirst().first!
            let attached = argument.dropFirst(2)
            switch letter {
            case "f", "r": result.sender = try value("-\(letter)", attached: attached)
            case "F": result.fullName = try value("-F", attached: attached)
            case "o", "e": continue  // -oem, -odb, -oee ...: delivery options that do not apply
            case "b": throw UsageError(description: "-\(letter)\(attached) is not supported: syncd-sendmail only queues mail (-bm)")
            case let other where Self.ignoredWithValue.contains(other): _ = try value("-\(letter)", attached: attached)
            default: throw UsageError(description: "unknown option \(argument)")
            }
        }
        // An argument may be a list ("a@x, Bob <b@y>"), as some programs pass them.
        result.recipients = result.recipients.flatMap { AddressList.addresses($0) }
        return result
    }

    static let usage = """
        usage: syncd-sendmail [-t] [-i|-oi] [-f FROM] [-F NAME] [--store NAME] [--config FILE] [--socket PATH] [RECIPIENT...]

        Queues the message on standard input in an imap store's outbox and asks syncd to send it.
          -t              recipients from To, Cc and Bcc (added to those given as arguments)
          -i, -oi         a line of only "." does not end the message
          -f FROM         the envelope sender (also -fFROM, -r FROM)
          -F NAME         the full name for a From field the message lacks
          -o*, -B, -N, -R, -V, -e*: accepted and ignored
          --store NAME    the store whose outbox takes it (default: the only imap store, else the
                          one whose user is the sender)
          --config FILE   syncd's configuration (default: as syncd finds it)
          --socket PATH   syncd's socket (default: $SYNCD_SOCKET, else the configuration's)

        Exit status: 0 queued (sent at once if syncd runs, else at its next run); 64 usage error;
        73 the message cannot be written into the outbox; 75 a temporary failure (disk full, read
        error); 78 the configuration cannot be used.
        """
}
