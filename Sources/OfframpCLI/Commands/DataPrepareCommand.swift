import ArgumentParser
import Foundation
import Offramp

// MARK: - offramp data prepare

/// `offramp data prepare --out DIR [--home DIR]`: seeded train/dev/test
/// splits of the corpora scripts/setup downloaded.
struct DataPrepareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Split the cached corpora (MR, WSJ and OANC POS, WNUT-16 NER) 80/10/10 with seed 13.",
        discussion: """
            Writes DIR/{mr,wsj-pos,oanc-pos,wnut16}/{train,dev,test}.{tsv|conll}. \
            The split is the same on every machine, so running it twice gives identical files.
            """
    )

    @Option(help: ArgumentHelp("The directory to write the splits to.", valueName: "dir"))
    var out: String

    @Option(help: ArgumentHelp("The cache scripts/setup filled (default: $OFFRAMP_HOME or ~/.cache/offramp).", valueName: "dir"))
    var home: String?

    func run() throws {
        let home = self.home.map { URL(fileURLWithPath: $0) } ?? CorpusPreparation.defaultHome
        let reports = try CorpusPreparation.prepare(home: home, out: URL(fileURLWithPath: out))
        print(Self.table(reports))
    }

    /// The sizes as an aligned table, numbers right-aligned.
    static func table(_ reports: [CorpusPreparation.SplitReport]) -> String {
        let header = ["corpus", "train", "dev", "test", "total", "unit", "tokens"]
        let rows = reports.map { r in
            [r.corpus, "\(r.train)", "\(r.dev)", "\(r.test)", "\(r.train + r.dev + r.test)", r.unit, "\(r.tokens)"]
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func format(_ row: [String]) -> String {
            row.indices.map { column in
                let pad = String(repeating: " ", count: widths[column] - row[column].count)
                // Text columns left-aligned, counts right-aligned.
                return column == 0 || column == 5 ? row[column] + pad : pad + row[column]
            }.joined(separator: "  ")
        }
        var lines = [format(header)] + rows.map(format)
        for r in reports where !r.unseenLabels.isEmpty {
            lines.append("note: \(r.corpus) dev/test has labels train lacks: \(r.unseenLabels.joined(separator: " "))")
        }
        if let first = reports.first {
            lines.append("written to \(first.directory.deletingLastPathComponent().path)")
        }
        return lines.joined(separator: "\n")
    }
}
