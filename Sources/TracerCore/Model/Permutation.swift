extension Array {
    /// Puts the elements in the order `order` gives, in place: the element now at `order[k]` moves to `k`.
    /// `order` must be a permutation of the indices. Each element is moved once, following the cycles of the
    /// permutation, so no second array is held: for 200,000 rows a gather into a new array held 27 MB more.
    mutating func rearrange(by order: [Int32]) {
        precondition(order.count == count, "a permutation of every element")
        var placed = [Bool](repeating: false, count: count)
        withUnsafeMutableBufferPointer { elements in
            for start in elements.indices where !placed[start] {
                let first = elements[start]
                var k = start
                while true {
                    placed[k] = true
                    let from = Int(order[k])
                    if from == start {
                        elements[k] = first
                        break
                    }
                    elements[k] = elements[from]
                    k = from
                }
            }
        }
    }
}
