import AsyncHTTPClient
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import NIOCore

/// An IMAP server as a Mozilla-style autoconfig document names it (the `incomingServer` of
/// type imap in `clientConfig`).
struct AutoconfigServer: Equatable, Sendable {
    var host: String
    var port: Int
    var security: String
    var user: String?
    /// The `authentication` values: password-cleartext, OAuth2, ...
    var authentication: [String]
}

/// Mozilla's ISPDB format (`config-v1.1.xml`), fetched over HTTP(S) with short timeouts.
enum Autoconfig {
    /// Where a domain publishes its document, in the order Thunderbird asks.
    static func urls(address: String, domain: String) -> [String] {
        let query = address.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "@.-_"))) ?? address
        return [
            "https://autoconfig.\(domain)/mail/config-v1.1.xml?emailaddress=\(query)",
            "https://\(domain)/.well-known/autoconfig/mail/config-v1.1.xml",
        ]
    }

    /// The document at `url`, read for `address`; nil when it is not there or names no IMAP server.
    /// - Throws: ``AddError`` for a server that answers with an error or cannot be reached.
    static func fetch(_ url: String, address: String, timeout: Duration = .seconds(5)) async throws -> AutoconfigServer? {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/xml, text/xml")
        let amount = TimeAmount.seconds(timeout.components.seconds)
        let body: ByteBuffer
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: amount)
            guard response.status == .ok else {
                if response.status == .notFound { return nil }
                throw AddError("\(url): HTTP \(response.status.code)")
            }
            body = try await response.body.collect(upTo: 1 << 20)
        } catch let error as AddError {
            throw error
        } catch {
            throw AddError("\(url): \(error)")
        }
        return parse(Data(body.readableBytesView), address: address)
    }

    /// The first IMAP `incomingServer` in the document, placeholders filled in for `address`.
    static func parse(_ data: Data, address: String) -> AutoconfigServer? {
        let reader = Reader()
        let parser = XMLParser(data: data)
        parser.delegate = reader
        guard parser.parse() || reader.server != nil, var server = reader.server, !server.host.isEmpty else { return nil }
        let local = address.split(separator: "@").first.map(String.init) ?? address
        let domain = address.split(separator: "@").last.map(String.init) ?? ""
        func fill(_ text: String) -> String {
            text.replacingOccurrences(of: "%EMAILADDRESS%", with: address)
                .replacingOccurrences(of: "%EMAILLOCALPART%", with: local)
                .replacingOccurrences(of: "%EMAILDOMAIN%", with: domain)
        }
        server.host = fill(server.host)
        server.user = server.user.map(fill)
        return server
    }

    /// Collects the first `<incomingServer type="imap">`.
    private final class Reader: NSObject, XMLParserDelegate {
        var server: AutoconfigServer?
        private var current: AutoconfigServer?
        private var text = ""

        func parser(_ parser: XMLParser, didStartElement element: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            text = ""
            if element == "incomingServer", server == nil, attributes["type"]?.lowercased() == "imap" {
                current = AutoconfigServer(host: "", port: 0, security: "SSL", user: nil, authentication: [])
            }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

        func parser(_ parser: XMLParser, didEndElement element: String, namespaceURI: String?, qualifiedName: String?) {
            let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
            text = ""
            guard current != nil else { return }
            switch element {
            case "hostname": current?.host = value
            case "port": current?.port = Int(value) ?? 0
            case "socketType": current?.security = value
            case "username": current?.user = value
            case "authentication": current?.authentication.append(value)
            case "incomingServer":
                server = current
                current = nil
            default: break
            }
        }
    }
}
