import Foundation
import Offramp

// MARK: - One row of `offramp bench encode`

/// One case's figures, printed as a table row or a JSON line (the format bench/compare.py reads).
struct BenchRow {
    let name: String, batch: Int, seqLen: String
    let sentencesPerSecond: Double, tokensPerSecond: Double, msPerBatch: Double, gflops: Double
    var sgemmGflops: Double? = nil
    var precision: Precision = .fp32

    var json: String {
        var s = "{\"engine\":\"offramp\",\"precision\":\"\(precision)\",\"cpu\":\(jsonString(cpuDescription())),\"case\":\"\(name)\",\"batch\":\(batch),\"seq_len\":\(seqLen == "var" ? "\"var\"" : seqLen),"
        s += String(format: "\"sentences_per_s\":%.3f,\"tokens_per_s\":%.1f,\"ms_per_batch\":%.4f,\"gflops\":%.2f", sentencesPerSecond, tokensPerSecond, msPerBatch, gflops)
        if let g = sgemmGflops { s += String(format: ",\"sgemm_gflops\":%.2f", g) }
        return s + "}"
    }
}
