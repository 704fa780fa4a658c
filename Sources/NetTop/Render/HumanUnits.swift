/// Byte counts and rates in binary units, as `top`, `iftop` and `nethogs` users read them:
/// whole bytes below 1 KiB, then one decimal ("1.5 KiB", "12.0 MiB").
enum HumanUnits {
    private static let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]

    static func bytes(_ value: UInt64) -> String {
        bytes(Double(value))
    }

    static func bytes(_ value: Double) -> String {
        guard value.isFinite, value > 0 else { return "0 B" }
        if value.rounded() < 1024 { return "\(Int(value.rounded())) B" }
        var scaled = value / 1024
        var unit = 0
        // Round first and then decide the unit, so 1023.96 KiB reads "1.0 MiB", never "1024.0 KiB".
        while unit < units.count - 1, (scaled * 10).rounded() >= 10240 {
            scaled /= 1024
            unit += 1
        }
        let tenths = (scaled * 10).rounded()
        guard tenths < 1e15 else { return "\(Int(scaled)) \(units[unit])" }
        let whole = Int(tenths) / 10, fraction = Int(tenths) % 10
        return "\(whole).\(fraction) \(units[unit])"
    }
}
