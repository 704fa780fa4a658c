/// A row of bars for recent values, newest on the right, scaled to the largest shown.
enum Sparkline {
    private static let unicodeBars: [Character] = [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
    private static let asciiBars: [Character] = [" ", ".", ":", "-", "=", "+", "*", "#", "%", "@"]

    /// `values` oldest first; the result is exactly `width` columns (blank on the left while the
    /// history is shorter). A zero is blank, anything above zero at least the lowest bar.
    static func render(_ values: [Float], width: Int, unicode: Bool) -> String {
        guard width > 0 else { return "" }
        let bars = unicode ? unicodeBars : asciiBars
        let shown = values.suffix(width)
        let peak = shown.max() ?? 0
        var text = String(repeating: " ", count: width - shown.count)
        for value in shown {
            guard peak > 0, value > 0 else { text.append(" "); continue }
            let level = Int((value / peak * Float(bars.count - 1)).rounded(.up))
            text.append(bars[min(max(1, level), bars.count - 1)])
        }
        return text
    }
}
