import ArgumentParser
import Foundation

// MARK: - --model of the benchmarks

/// The encoder a benchmark runs: any model directory, by default the
/// MiniLM-L6 scripts/setup cached (so `offramp bench ...` runs as it is).
struct BenchModelOptions: ParsableArguments {
    @Option(help: "Model directory (default: MiniLM-L6 in the setup cache).") var model: String?

    var directory: URL { model.map { URL(fileURLWithPath: $0) } ?? offrampHome().appendingPathComponent("models/minilm-l6") }
}
