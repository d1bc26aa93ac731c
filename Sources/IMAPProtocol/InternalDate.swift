/// The INTERNALDATE of a message (RFC 3501 `date-time`): `"17-Jul-1996 02:44:25 -0700"`.
///
/// Components are kept as sent, in the server's zone; ``secondsSince1970`` gives the instant (for a
/// Maildir file's mtime).
public struct InternalDate: Hashable, Sendable, CustomStringConvertible {
    /// 1...9999
    public let year: Int
    /// 1...12
    public let month: Int
    /// 1...31
    public let day: Int
    /// 0...23
    public let hour: Int
    /// 0...59
    public let minute: Int
    /// 0...60
    public let second: Int
    /// The zone's offset from UTC in minutes: -0700 is -420.
    public let zoneOffsetMinutes: Int

    private static let months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]

    /// A date from components, or nil when one is out of range (the day is checked against the
    /// month's length, leap years included; seconds allow 60 for a leap second).
    public init?(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, zoneOffsetMinutes: Int) {
        guard (1...9999).contains(year), (1...12).contains(month), (0...23).contains(hour), (0...59).contains(minute),
            (0...60).contains(second), (-24 * 60 + 1...24 * 60 - 1).contains(zoneOffsetMinutes),
            day >= 1, day <= Self.daysIn(month: month, year: year)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
        self.zoneOffsetMinutes = zoneOffsetMinutes
    }

    /// The instant `seconds` after 1970-01-01T00:00:00Z, in UTC (`+0000`); nil outside years
    /// 1...9999. For APPEND, which sets a message's INTERNALDATE.
    public init?(secondsSince1970 seconds: Int64) {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = Int(seconds - days * 86_400)
        // Civil from days (H. Hinnant), the inverse of ``secondsSince1970``.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        guard (1...9999).contains(year) else { return nil }
        self.init(
            year: Int(year), month: Int(month), day: Int(day), hour: rest / 3600, minute: rest % 3600 / 60,
            second: rest % 60, zoneOffsetMinutes: 0)
    }

    /// Parses the contents of the quoted `date-time` (without the quotes). The day may be written
    /// with a leading space (`" 7-Jul-..."`, as RFC 3501 has it), a leading zero, or one digit.
    init?(parsing bytes: [UInt8]) {
        var rest = bytes[...]
        func number(_ digits: Int) -> Int? {
            guard rest.count >= digits else { return nil }
            var value = 0
            for byte in rest.prefix(digits) {
                guard ASCII.isDigit(byte) else { return nil }
                value = value * 10 + Int(byte - ASCII.zero)
            }
            rest = rest.dropFirst(digits)
            return value
        }
        func literal(_ byte: UInt8) -> Bool {
            guard rest.first == byte else { return false }
            rest = rest.dropFirst()
            return true
        }
        if rest.first == ASCII.space { rest = rest.dropFirst() }
        let dayDigits = rest.count > 1 && ASCII.isDigit(rest[rest.startIndex + 1]) ? 2 : 1
        guard let day = number(dayDigits), literal(ASCII.minus), rest.count >= 3 else { return nil }
        let monthName = String(decoding: rest.prefix(3).map(ASCII.uppercase), as: UTF8.self)
        rest = rest.dropFirst(3)
        guard let monthIndex = Self.months.firstIndex(of: monthName), literal(ASCII.minus),
            let year = number(4), literal(ASCII.space),
            let hour = number(2), literal(ASCII.colon), let minute = number(2), literal(ASCII.colon),
            let second = number(2), literal(ASCII.space), let sign = rest.first, sign == ASCII.plus || sign == ASCII.minus
        else { return nil }
        rest = rest.dropFirst()
        guard let zoneHours = number(2), let zoneMinutes = number(2), rest.isEmpty, zoneMinutes < 60 else { return nil }
        let offset = (zoneHours * 60 + zoneMinutes) * (sign == ASCII.minus ? -1 : 1)
        self.init(
            year: year, month: monthIndex + 1, day: day, hour: hour, minute: minute, second: second,
            zoneOffsetMinutes: offset)
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// The instant as seconds since 1970-01-01T00:00:00Z.
    public var secondsSince1970: Int64 {
        // Days from civil (H. Hinnant), valid for the proleptic Gregorian calendar.
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let local = days * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        return local - Int64(zoneOffsetMinutes * 60)
    }

    /// The RFC 3501 form without quotes, two-digit day: `17-Jul-1996 02:44:25 -0700`.
    public var description: String {
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let name = Self.months[month - 1]
        let monthText = name.prefix(1) + ASCII.lowercased(String(name.dropFirst()))
        let sign = zoneOffsetMinutes < 0 ? "-" : "+"
        let zone = abs(zoneOffsetMinutes)
        return "\(pad(day, 2))-\(monthText)-\(pad(year, 4)) \(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2)) "
            + "\(sign)\(pad(zone / 60, 2))\(pad(zone % 60, 2))"
    }
}
