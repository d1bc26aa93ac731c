import XCTest

@testable import IMAPProtocol

final class UIDSetTests: XCTestCase {
    func testParseAndFormat_rangesSinglesAndStar() throws {
        let set = try UIDSet(parsing: "1:5,7,9:*")
        XCTAssertEqual(set.ranges, [1...5, 7...7])
        XCTAssertEqual(set.openRangeStart, 9)
        XCTAssertEqual(set.description, "1:5,7,9:*")
    }

    func testParse_normalises() throws {
        XCTAssertEqual(try UIDSet(parsing: "5:1").description, "1:5")
        XCTAssertEqual(try UIDSet(parsing: "3,1,2,4").description, "1:4")
        XCTAssertEqual(try UIDSet(parsing: "1:3,2:6,10,8:9").description, "1:6,8:10")
        XCTAssertEqual(try UIDSet(parsing: "*").description, "*")
        XCTAssertEqual(try UIDSet(parsing: "*:4,7:*").description, "4:*")
        XCTAssertEqual(try UIDSet(parsing: "4294967295:*"), .last)
        XCTAssertEqual(try UIDSet(parsing: "4294967295").ranges, [UInt32.max...UInt32.max])
        XCTAssertEqual(try UIDSet(parsing: "007"), UIDSet(7))
    }

    func testParse_invalidThrows() {
        for text in ["", "0", "1,", ",1", "1:", ":1", "a", "1:2:3", "4294967296", "1 2", "1,,2", "-1", "1:0"] {
            XCTAssertThrowsError(try UIDSet(parsing: text), text) { error in
                XCTAssertEqual((error as? IMAPParseError)?.code, .invalidSequenceSet, text)
            }
        }
    }

    func testIterate_concreteUIDsAscending_starNotIterated() throws {
        XCTAssertEqual(Array(try UIDSet(parsing: "7,1:3,9:*")), [1, 2, 3, 7])
        XCTAssertEqual(Array(UIDSet()), [])
        XCTAssertEqual(Array(UIDSet(UInt32.max - 1...UInt32.max)), [UInt32.max - 1, UInt32.max])
    }

    func testCountAndContains_withoutMaterialising() {
        let huge = UIDSet(1...4_000_000_000)
        XCTAssertEqual(huge.count, 4_000_000_000)
        XCTAssertTrue(huge.contains(3_999_999_999))
        XCTAssertFalse(huge.contains(4_000_000_001))
        let set = UIDSet([2, 4, 6])
        XCTAssertEqual(set.count, 3)
        XCTAssertTrue(set.contains(4))
        XCTAssertFalse(set.contains(5))
        XCTAssertFalse(UIDSet.from(1).contains(1), "the open range is not consulted")
    }

    func testInsert_mergesOverlappingAndAdjacentRanges() {
        var set = UIDSet()
        set.insert(10...12)
        set.insert(1...2)
        set.insert(5)
        XCTAssertEqual(set.description, "1:2,5,10:12")
        set.insert(3...4)
        XCTAssertEqual(set.description, "1:5,10:12")
        set.insert(6...9)
        XCTAssertEqual(set.ranges, [1...12])
        set.insert(20...UInt32.max)
        set.insert(13...19)
        XCTAssertEqual(set.ranges, [1...UInt32.max])
        var other = UIDSet([100])
        other.insertOpenRange(from: 50)
        other.insertOpenRange(from: 70)
        XCTAssertEqual(other.description, "100,50:*")
    }

    func testFormUnion() throws {
        var set = try UIDSet(parsing: "1:3,10")
        set.formUnion(try UIDSet(parsing: "4,8:9,20:*"))
        XCTAssertEqual(set.description, "1:4,8:10,20:*")
    }

    func testResolved_starMeansHighestUIDEvenBelowTheStart() throws {
        XCTAssertEqual(try UIDSet(parsing: "3:*").resolved(highestUID: 5).description, "3:5")
        // UID n:* always matches the highest UID: the caller filters out UIDs below n.
        XCTAssertEqual(try UIDSet(parsing: "9:*").resolved(highestUID: 5).description, "5")
        XCTAssertEqual(UIDSet.last.resolved(highestUID: 42).description, "42")
        XCTAssertEqual(try UIDSet(parsing: "1,9:*").resolved(highestUID: 0).description, "1")
    }

    func testSplit_keepsEachPartUnderTheLength() throws {
        let set = UIDSet(stride(from: UInt32(1), through: 20_000, by: 2))
        let parts = set.split(maxEncodedLength: 1000)
        XCTAssertGreaterThan(parts.count, 1)
        for part in parts { XCTAssertLessThanOrEqual(part.description.utf8.count, 1000) }
        var union = UIDSet()
        for part in parts { union.formUnion(part) }
        XCTAssertEqual(union, set)
        var withStar = try UIDSet(parsing: "1:3")
        withStar.insertOpenRange(from: 10)
        XCTAssertEqual(withStar.split(maxEncodedLength: 21).map(\.description), ["1:3,10:*"])
        XCTAssertEqual(withStar.split(maxEncodedLength: 21).count, 1)
    }
}
