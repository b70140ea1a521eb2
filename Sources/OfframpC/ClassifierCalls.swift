import Foundation
import Offramp

// MARK: - Texts (or pairs) in, labels with early exit out (AdaptiveClassifier)

/// Loads a multi-exit classification checkpoint as `AdaptiveClassifier.load` does.
@_cdecl("offramp_classifier_load")
public func offramp_classifier_load(_ path: UnsafePointer<CChar>?, _ precisionName: UnsafePointer<CChar>?,
                                    _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                    _ message: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int32 {
    load(path, precisionName, out, message, capacity) { directory, precision in
        let c = try AdaptiveClassifier.load(directory: directory, precision: precision)
        return try Handle(.classifier(c), info: modelInfo("classifier", c.model, maxLength: c.maxLength, defaultPolicy: c.defaultPolicy))
    }
}

/// Classifies `count` texts (with `pairs` non-null: sentence pairs) under
/// the policy (`policy` null: the model's calibrated one; settings as
/// `policy(_:threshold:patience:layer:window:for:)` takes them),
/// `batch_size` at a time, as `AdaptiveClassifier.classify` does. Writes
/// each text's label index into `labels` (count), its probabilities into
/// `probabilities` (count × labels, row-major; `probabilities_capacity`
/// floats) and its 1-based exit layer into `exit_layers` (count).
@_cdecl("offramp_classifier_predict")
public func offramp_classifier_predict(_ handle: UnsafeMutableRawPointer?,
                                       _ texts: UnsafePointer<UnsafePointer<CChar>?>?, _ lengths: UnsafePointer<Int>?,
                                       _ pairs: UnsafePointer<UnsafePointer<CChar>?>?, _ pairLengths: UnsafePointer<Int>?,
                                       _ count: Int, _ firstIndex: Int,
                                       _ policyName: UnsafePointer<CChar>?, _ threshold: Double, _ patience: Int, _ layer: Int,
                                       _ batchSize: Int,
                                       _ labels: UnsafeMutablePointer<Int32>?, _ probabilities: UnsafeMutablePointer<Float>?,
                                       _ probabilitiesCapacity: Int, _ exitLayers: UnsafeMutablePointer<Int32>?,
                                       _ message: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int32 {
    call(message, capacity) {
        let h = try Handle.from(handle)
        guard case .classifier(let classifier) = h.model else { throw CallError(.badHandle, "the handle is not a classifier") }
        let policy = try policy(policyName, threshold: threshold, patience: patience, layer: layer, window: noSetting, for: classifier.model)
        guard batchSize >= 1 else { throw CallError(.invalid, "batch_size \(batchSize) must be at least 1") }
        let first = try strings(texts, lengths, count: count, firstIndex: firstIndex, what: "text")
        let second = try pairs.map { _ in try strings(pairs, pairLengths, count: count, firstIndex: firstIndex, what: "text_pair") }
        let classes = classifier.labels.count
        guard let labels, let probabilities, let exitLayers, probabilitiesCapacity >= first.count * classes else {
            throw CallError(.bufferTooSmall, "the outputs are null or hold fewer than \(first.count) × \(classes) probabilities")
        }
        let predictions = try h.locked { () throws -> [Prediction] in
            // An empty list gets the library's own error.
            if first.isEmpty { return try second == nil ? classifier.classify([]) : classifier.classify(pairs: []) }
            let examples = try first.indices.map { i in
                try classifier.encode(first[i], pair: second?[i], position: firstIndex + i + 1).example
            }
            return try classifier.runner.run(examples, policy: policy ?? classifier.defaultPolicy, batchSize: batchSize)
                .results.map(classifier.prediction)
        }
        for (i, p) in predictions.enumerated() {
            labels[i] = Int32(classifier.labels.firstIndex(of: p.label) ?? -1)
            (probabilities + i * classes).update(from: p.probabilities, count: classes)
            exitLayers[i] = Int32(p.exitLayer)
        }
    }
}
