/// Makes untrusted text (process names, namespace names) safe to write to a terminal.
///
/// A process can name itself anything, including an escape sequence that clears the screen or rewrites
/// the title bar of whoever runs nettop; such names are shown escaped, never written raw: C0/C1 control
/// characters as `\xHH`, other invisible format characters (bidi overrides, zero-width joiners, line
/// separators) as `\u{HHHH}`, and the backslash itself as `\\` so an escaped name cannot be forged.
enum TerminalSafeText {
    static func sanitize(_ text: String) -> String {
        if text.unicodeScalars.allSatisfy(isPlain) { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            if isPlain(scalar) {
                out.unicodeScalars.append(scalar)
            } else if scalar == "\\" {
                out += "\\\\"
            } else if scalar.value < 0x100 {
                out += "\\x" + hex(scalar.value, width: 2)
            } else {
                out += "\\u{" + hex(scalar.value, width: 4) + "}"
            }
        }
        return out
    }

    private static func isPlain(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII { return scalar.value >= 0x20 && scalar.value != 0x7f && scalar != "\\" }
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
            return false
        default:
            return true
        }
    }

    private static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
