extension Array {
    /// Hands the elements in `range` to `body` in order, moved out rather than copied, and puts
    /// `placeholder()` in each one's place (the caller then empties the array). Iterating or
    /// reversing an array of records copies each one, a retain and release per field, which the
    /// consumer thread paid for every record.
    mutating func moveElements(_ range: Range<Int>, leaving placeholder: () -> Element, _ body: (consuming Element) -> Void) {
        withUnsafeMutableBufferPointer { buffer in
            for index in range {
                let element = buffer.moveElement(from: index)
                buffer.initializeElement(at: index, to: placeholder())
                body(element)
            }
        }
    }
}
