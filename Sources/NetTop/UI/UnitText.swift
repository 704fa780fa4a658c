/// Numbers as the UI shows them. Byte counts use `HumanUnits` (binary: KiB, MiB), as `--batch` does;
/// rates switch to bits per second with `b`, in decimal units (kb, Mb, Gb), as network links are rated.
enum UnitText {
    enum RateUnit: Sendable, Equatable {
        case bytes, bits
    }

    private static let bitUnits = ["kb", "Mb", "Gb", "Tb", "Pb", "Eb"]

    /// A rate in bytes per second, in the chosen unit (the column title or the caller says "/s").
    static func rate(_ bytesPerSecond: Double, _ unit: RateUnit) -> String {
        switch unit {
        case .bytes: return HumanUnits.bytes(bytesPerSecond)
        case .bits: return bits(bytesPerSecond * 8)
        }
    }

    /// "0 b", "999 b", "1.0 kb", "12.5 Mb": decimal prefixes, one decimal from 1 kb.
    static func bits(_ value: Double) -> String {
        guard value.isFinite, value > 0 else { return "0 b" }
        if value.rounded() < 1000 { return "\(Int(value.rounded())) b" }
        var scaled = value / 1000
        var unit = 0
        while unit < bitUnits.count - 1, (scaled * 10).rounded() >= 10000 {
            scaled /= 1000
            unit += 1
        }
        let tenths = (scaled * 10).rounded()
        guard tenths < 1e15 else { return "\(Int(scaled)) \(bitUnits[unit])" }
        return "\(Int(tenths) / 10).\(Int(tenths) % 10) \(bitUnits[unit])"
    }

    /// A unit string made to fit `width`: "1023.9 KiB" loses its decimal ("1023 KiB") rather than its unit.
    static func fit(_ text: String, width: Int) -> String {
        guard text.count > width, let dot = text.firstIndex(of: "."),
              let space = text[dot...].firstIndex(of: " ") else { return text }
        return String(text[..<dot]) + String(text[space...])
    }

    /// 1234567 → "1,234,567": exact counts in the detail view.
    static func grouped(_ value: UInt64) -> String {
        let digits = String(value)
        var out = ""
        for (i, digit) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return out
    }

    /// A duration in at most two units: "42s", "3m07s", "5h02m", "12d03h".
    static func age(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds > 0 else { return "0s" }
        let s = Int(min(seconds, 1e12))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" + two(s % 60) + "s" }
        if s < 86400 { return "\(s / 3600)h" + two(s / 60 % 60) + "m" }
        return "\(s / 86400)d" + two(s / 3600 % 24) + "h"
    }

    /// Seconds as the interval reads: "1s", "0.5s", "2.5s".
    static func interval(_ seconds: Double) -> String {
        if seconds == seconds.rounded() && seconds < 1e9 { return "\(Int(seconds))s" }
        return "\((seconds * 100).rounded() / 100)s"
    }

    private static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
}
