import XCTest

@testable import IMAPProtocol

final class TagGeneratorTests: XCTestCase {
    func testTags_countFromA0001() {
        var tags = TagGenerator()
        XCTAssertEqual(tags.next(), "A0001")
        XCTAssertEqual(tags.next(), "A0002")
    }

    func testTags_widenAfter9999() {
        var tags = TagGenerator(prefix: "S")
        var last = ""
        for _ in 1...10_000 { last = tags.next() }
        XCTAssertEqual(last, "S10000")
    }

    func testTags_areNeverRepeated() {
        var tags = TagGenerator()
        let all = (0..<20_000).map { _ in tags.next() }
        XCTAssertEqual(Set(all).count, all.count)
    }
}
