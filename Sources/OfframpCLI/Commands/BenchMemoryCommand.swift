import ArgumentParser
import Foundation
import Offramp

// MARK: - offramp bench memory

/// Peak memory of inference: load the model, run full-depth batches of
/// 32 x 128, report the process's peak resident set against the weights' size.
struct BenchMemoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Peak resident memory of full-depth inference at batch 32 x 128 against the model's size (run it alone: the peak is per process).")

    @OptionGroup var encoderModel: BenchModelOptions
    @OptionGroup var precisionOptions: PrecisionOptions
    @Option var batch: Int = 32
    @Option var length: Int = 128

    func validate() throws {
        try requireCount(batch, "--batch", in: 1...4096)
        try requireCount(length, "--length", in: 2...(1 << 16))
    }

    func run() throws {
        let precision = try precisionOptions.single()
        guard precisionOptions.smoothQuant == nil else { throw ValidationError("--smooth-quant: bench memory measures int8 without it") }
        let before = peakResidentBytes()
        let encoder = try BertEncoder.load(directory: encoderModel.directory)
        try PrecisionOptions.prepare(encoder, precision)
        let loaded = peakResidentBytes()
        let fp32 = Double(4 * (encoder.parameters.storage.count + encoder.parameters.storedElsewhere.reduce(0) { $0 + $1.count }))
        let weights = Double(encoder.residentWeightBytes)
        let batch = BenchCommand.syntheticBatch(batch: self.batch, length: length)
        for _ in 0..<3 { _ = try encoder(batch) }
        let peak = peakResidentBytes()
        func mb(_ x: Double) -> String { String(format: "%.1f MB", x / 1e6) }
        print("CPU: \(cpuDescription())")
        print("| measure | value |\n|---|---:|")
        print("| weights in fp32 | \(mb(fp32)) |")
        if let saved = encoder.savedQuantization {
            print("| saved quantized in \(saved.precision): fp32 parameters held | \(mb(Double(4 * encoder.parameters.storage.count))) |")
            print("| saved quantized in \(saved.precision): layer weights and word table packed | \(mb(Double(encoder.packedWeightBytes))) |")
        } else if encoder.packedWeightBytes > 0 {
            let what = encoder.precision == .fp32 ? "layer weights packed in fp32 for the kernel" : "layer weights and word table packed in \(encoder.precision)"
            print("| \(what) (beside the fp32 copy) | \(mb(Double(encoder.packedWeightBytes))) |")
        }
        print(String(format: "| weights held / weights in fp32 | %.2f |", weights / fp32))
        print("| peak RSS before loading | \(mb(before)) |")
        print("| peak RSS after loading | \(mb(loaded)) |")
        print("| peak RSS after \(self.batch) x \(length) inference | \(mb(peak)) |")
        print(String(format: "| inference peak above the process before loading, / weights held | %.2f |", (peak - before) / weights))
    }

    func peakResidentBytes() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) * 1024  // Linux reports KiB
    }
}
