/// How many terminal columns text takes, without the C library: `wcwidth()` depends on the process's
/// locale, and the renderer must give the same screen in tests (C locale) as under a UTF-8 terminal.
///
/// East Asian wide and fullwidth characters and emoji take two columns, combining marks none, the rest
/// one. The terminal places every non-ASCII character at the column computed here, so a terminal that
/// disagrees about one character cannot shift the rest of the line.
enum TextWidth {
    static func of(_ text: String) -> Int {
        var total = 0
        for character in text { total += of(character) }
        return total
    }

    static func of(_ character: Character) -> Int {
        if let ascii = character.asciiValue { return ascii >= 0x20 && ascii != 0x7f ? 1 : 0 }
        guard let first = character.unicodeScalars.first else { return 0 }
        // A cluster is as wide as its base; an emoji sequence is as wide as one emoji.
        if character.unicodeScalars.count > 1, character.unicodeScalars.contains(where: { $0.value == 0xFE0F }) {
            return 2
        }
        return of(first)
    }

    static func of(_ scalar: Unicode.Scalar) -> Int {
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format, .control: return 0
        default: break
        }
        if scalar.properties.isEmojiPresentation { return 2 }
        let v = scalar.value
        for range in wideRanges where range.contains(v) { return 2 }
        return 1
    }

    /// East Asian Wide (W) and Fullwidth (F) blocks, after Markus Kuhn's wcwidth.
    private static let wideRanges: [ClosedRange<UInt32>] = [
        0x1100...0x115F, 0x2329...0x232A, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF,
        0x4E00...0x9FFF, 0xA000...0xA4CF, 0xA960...0xA97F, 0xAC00...0xD7A3, 0xF900...0xFAFF,
        0xFE10...0xFE19, 0xFE30...0xFE6F, 0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x1F300...0x1F64F,
        0x1F900...0x1F9FF, 0x20000...0x2FFFD, 0x30000...0x3FFFD,
    ]

    /// `text` cut to at most `width` columns, ending in `ellipsis` when something was cut.
    static func truncate(_ text: String, to width: Int, ellipsis: String) -> String {
        guard width > 0 else { return "" }
        if of(text) <= width { return text }
        let room = width - of(ellipsis)
        guard room > 0 else { return String(repeating: ".", count: width) }
        var out = "", used = 0
        for character in text {
            let w = of(character)
            if used + w > room { break }
            out.append(character)
            used += w
        }
        return out + ellipsis
    }

    /// `text` cut in the middle to at most `width` columns, keeping `suffixWidth` columns of its end
    /// (an address keeps its port).
    static func truncateMiddle(_ text: String, to width: Int, keepingEnd suffixWidth: Int, ellipsis: String) -> String {
        if of(text) <= width { return text }
        let tailBudget = min(suffixWidth, max(0, width - of(ellipsis) - 1))
        var tail = "", tailUsed = 0
        for character in text.reversed() {
            let w = of(character)
            if tailUsed + w > tailBudget { break }
            tail.insert(character, at: tail.startIndex)
            tailUsed += w
        }
        let head = truncate(String(text.dropLast(tail.count)), to: width - tailUsed, ellipsis: ellipsis)
        return head + tail
    }
}
