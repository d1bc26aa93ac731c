/// Hands out command tags: `A0001`, `A0002`, ... (`A10000` after `A9999`), never repeating within
/// one generator. Use one generator per connection.
public struct TagGenerator: Sendable {
    /// The letters before the counter.
    public let prefix: String
    private var counter = 0

    /// - Precondition: `prefix` is non-empty and made of tag characters (ASTRING-CHAR except `+`).
    public init(prefix: String = "A") {
        precondition(!prefix.isEmpty && prefix.utf8.allSatisfy(ASCII.isTagChar), "invalid tag prefix")
        self.prefix = prefix
    }

    /// The next tag.
    public mutating func next() -> String {
        counter += 1
        let digits = String(counter)
        return prefix + String(repeating: "0", count: Swift.max(0, 4 - digits.count)) + digits
    }
}
