import SMTPProtocol

/// The server took responsibility for the message (its 250 to the end of DATA): for the
/// accepted recipients it must now deliver or bounce it.
public struct SMTPDelivery: Sendable {
    /// The server's 250, usually naming its queue id.
    public var reply: SMTPReply
    public var accepted: [String]
    /// Recipients the server refused while taking the message for the others. A 4xx here means
    /// that recipient may be tried again later, in a transaction of its own.
    public var rejected: [(recipient: String, reply: SMTPReply)]

    public init(reply: SMTPReply, accepted: [String], rejected: [(recipient: String, reply: SMTPReply)]) {
        self.reply = reply
        self.accepted = accepted
        self.rejected = rejected
    }
}
