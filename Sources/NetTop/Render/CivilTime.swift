/// Formats Unix seconds as "YYYY-MM-DD HH:MM:SS" without Foundation or the C library's time zone state,
/// so renderers stay pure: the caller passes the UTC offset it wants shown.
enum CivilTime {
    static func format(unixSeconds: Double, utcOffsetSeconds: Int = 0) -> String {
        guard unixSeconds.isFinite, abs(unixSeconds) < 1e14 else { return "????-??-?? ??:??:??" }
        let seconds = Int(unixSeconds.rounded(.down)) + utcOffsetSeconds
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secondOfDay = seconds - days * 86400
        let (year, month, day) = civilFromDays(days)
        return "\(year)-\(two(month))-\(two(day)) "
            + "\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60))"
    }

    /// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
    static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func two(_ n: Int) -> String {
        n < 10 ? "0\(n)" : "\(n)"
    }
}
