import Foundation
import Offramp

// MARK: - Word lists in, a label per word with SENTEE / TOKEE out (AdaptiveTagger)

/// Loads a multi-exit labeling checkpoint (task label) as `AdaptiveTagger.load` does.
@_cdecl("offramp_tagger_load")
public func offramp_tagger_load(_ path: UnsafePointer<CChar>?, _ precisionName: UnsafePointer<CChar>?,
                                _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                _ message: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int32 {
    load(path, precisionName, out, message, capacity) { directory, precision in
        let t = try AdaptiveTagger.load(directory: directory, precision: precision)
        return try Handle(.tagger(t), info: modelInfo("tagger", t.model, maxLength: t.maxLength, defaultPolicy: t.defaultPolicy))
    }
}

/// Labels `sentence_count` sentences of words: `words` (`word_count` of
/// them in all, UTF-8 with byte `lengths`) split by `sentence_lengths`
/// (words per sentence), as `AdaptiveTagger.tag` does. Per word, in order:
/// the label index (-1 for a word cut off by the maximum length), the
/// label's probability and the 1-based layer it halted at (0 when unlabeled).
@_cdecl("offramp_tagger_tag")
public func offramp_tagger_tag(_ handle: UnsafeMutableRawPointer?,
                               _ words: UnsafePointer<UnsafePointer<CChar>?>?, _ lengths: UnsafePointer<Int>?, _ wordCount: Int,
                               _ sentenceLengths: UnsafePointer<Int>?, _ sentenceCount: Int, _ firstIndex: Int,
                               _ policyName: UnsafePointer<CChar>?, _ threshold: Double, _ window: Int, _ layer: Int,
                               _ batchSize: Int,
                               _ labels: UnsafeMutablePointer<Int32>?, _ probabilities: UnsafeMutablePointer<Float>?,
                               _ exitLayers: UnsafeMutablePointer<Int32>?,
                               _ message: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int32 {
    call(message, capacity) {
        let h = try Handle.from(handle)
        guard case .tagger(let tagger) = h.model else { throw CallError(.badHandle, "the handle is not a tagger") }
        let policy = try policy(policyName, threshold: threshold, patience: noSetting, layer: layer, window: window, for: tagger.model)
        guard batchSize >= 1 else { throw CallError(.invalid, "batch_size \(batchSize) must be at least 1") }
        let all = try strings(words, lengths, count: wordCount, firstIndex: 0, what: "word")
        guard sentenceCount >= 0, sentenceCount == 0 || sentenceLengths != nil else { throw CallError(.invalid, "the sentence lengths are null") }
        var sentences: [[String]] = [], start = 0
        for s in 0..<sentenceCount {
            let n = sentenceLengths![s]
            guard n >= 0, start + n <= all.count else { throw CallError(.invalid, "sentence lengths add up to more than the \(all.count) words") }
            sentences.append(Array(all[start ..< start + n]))
            start += n
        }
        guard start == all.count else { throw CallError(.invalid, "sentence lengths add up to \(start), not the \(all.count) words") }
        guard all.isEmpty || (labels != nil && probabilities != nil && exitLayers != nil) else { throw CallError(.bufferTooSmall, "an output is null") }
        let tagged = try h.locked { () throws -> [[TaggedWord]] in
            if sentences.isEmpty { return try tagger.tag([]) }  // the library's own error
            let encoded = try sentences.indices.map { i in try tagger.encode(sentences[i], position: firstIndex + i + 1) }
            let run = try tagger.runner.run(encoded.map(\.example), policy: policy ?? tagger.defaultPolicy, batchSize: batchSize)
            return zip(sentences, zip(run.results, encoded)).map { words, r in tagger.tagged(words, r.0, r.1.wordQueries) }
        }
        let index = Dictionary(uniqueKeysWithValues: tagger.model.labels.enumerated().map { ($1, Int32($0)) })
        for (k, word) in tagged.joined().enumerated() {
            labels![k] = word.label.flatMap { index[$0] } ?? -1
            probabilities![k] = word.probability
            exitLayers![k] = Int32(word.exitLayer)
        }
    }
}
