import Foundation
import Offramp
@_spi(Fuzzing) import OfframpServer

// MARK: - The training-data readers and the server's request body

extension FuzzTarget {
    /// The formats the `data` target reads, picked by an input's first byte;
    /// the rest is the file. The readers take files (they name them in
    /// errors), so each input is written to one scratch file per process.
    static let dataFormats = ["tsv", "csv", "jsonl", "txt", "conll", "pos"]

    static let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("offramp-fuzz-\(getpid())")

    /// Whatever loads must hold what the reader promises: classification
    /// examples with a non-empty text (and a label when labels are
    /// required), tagged sentences with one non-empty tag per non-empty
    /// word; what the writer accepts reads back the same.
    static func data(_ data: UnsafeRawBufferPointer) {
        guard let first = data.first else { return }
        let format = dataFormats[Int(first) % dataFormats.count]
        let body = Data(UnsafeRawBufferPointer(rebasing: data.dropFirst()))
        try? FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let url = scratch.appendingPathComponent("input.\(format)")
        guard (try? body.write(to: url)) != nil else { return }
        if format == "conll" || format == "pos" {
            guard let sentences = try? TokenLabelData.load(url) else { return }
            for s in sentences {
                check(!s.words.isEmpty && s.words.count == s.tags.count, "sentence at line \(s.line): \(s.words.count) words, \(s.tags.count) tags")
                check(s.words.allSatisfy { !$0.isEmpty } && s.tags.allSatisfy { !$0.isEmpty }, "an empty word or tag at line \(s.line)")
            }
            _ = LabelSet.collect(sentences)
            let copy = scratch.appendingPathComponent("copy.conll")
            if (try? TokenLabelData.write(sentences, to: copy)) != nil {
                let back = try? TokenLabelData.load(copy)
                check(back?.map(\.words) == sentences.map(\.words) && back?.map(\.tags) == sentences.map(\.tags), "CoNLL round trip changed the sentences")
            }
            return
        }
        for requireLabels in [true, false] {
            guard let examples = try? ClassificationData.load(url, requireLabels: requireLabels) else { continue }
            check(!examples.isEmpty, "an empty file loaded")
            for e in examples {
                check(!e.text.isEmpty, "an empty text at line \(e.line)")
                if requireLabels { check(e.label != nil, "no label at line \(e.line) although labels are required") }
            }
            _ = LabelSet.collect(examples)
            let copy = scratch.appendingPathComponent("copy.tsv")
            if requireLabels, (try? ClassificationData.write(examples, to: copy)) != nil {
                let back = try? ClassificationData.load(copy)
                check(back?.map(\.text) == examples.map(\.text) && back?.map(\.label) == examples.map(\.label)
                      && back?.map(\.pair) == examples.map(\.pair), "TSV round trip changed the examples")
            }
        }
    }

    /// A body either parses into 1...maxTexts texts and a policy that
    /// encodes and parses back the same, or is refused with 400, 413 or 422.
    static func requestBody(_ data: UnsafeRawBufferPointer) {
        let layers = 6, maxTexts = 8
        guard let outcome = try? RequestBodyCheck.parse(Data(data), layers: layers, maxTexts: maxTexts) else {
            check(false, "the parser threw something other than an HTTP error")
            return
        }
        switch outcome {
        case .parsed(let texts, let policy, _):
            check((1...maxTexts).contains(texts.count), "\(texts.count) texts accepted")
            if let policy {
                check((try? ExitPolicy(encoded: policy.encoded, layers: layers)) == policy, "policy \(policy.encoded) does not read back")
            }
        case .refused(let status, let message):
            check([400, 413, 422].contains(status), "status \(status)")
            check(!message.isEmpty, "a refusal without a message")
        }
    }

    /// Starting inputs: one small file per format, and request bodies.
    static func writeDataSeeds(_ put: (FuzzTarget, String, Data) throws -> Void) throws {
        let files = [
            "label\ttext\npos\tA gorgeous film.\nneg\tDull.\tpair text\n",
            "label,text\npos,\"Witty, \"\"sharp\"\"\nand long\"\nneg,Dull\n",
            "{\"text\": \"A film\", \"label\": \"pos\"}\n{\"text\": \"Dull\", \"label\": 1, \"text_pair\": \"x\"}\n",
            "one text\nanother text\n",
            "-DOCSTART- O\n\nStocks\tNNS\nfell\tVBD\n\n@user O\nParis B-loc\n",
            "Stocks/NNS fell/VBD ./.\n1\\/2/CD of/IN it/PRP\n",
        ]
        for (i, text) in files.enumerated() { try put(.data, "file\(i)", Data([UInt8(i)]) + Data(text.utf8)) }
        let bodies = [#"{"texts": ["A film", "Dull"]}"#, #"{"texts": ["x"], "policy": "entropy", "threshold": 0.3, "truncate": false}"#,
                      #"{"texts": ["x"], "policy": "tokee", "window": 2, "threshold": 0.2}"#, #"{"texts": ["x"], "policy": "budget", "layer": 3}"#,
                      #"{"texts": ["x"], "policy": "patience-confidence", "patience": 2, "threshold": 0.1}"#]
        for (i, body) in bodies.enumerated() { try put(.requestBody, "body\(i)", Data(body.utf8)) }
    }
}
