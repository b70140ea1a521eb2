import Foundation

// MARK: - The CPU a benchmark ran on

/// The CPU's model name and the flags that decide which kernels run (from
/// /proc/cpuinfo), for every benchmark record: machines of one kind differ
/// (Zen 4 runs AVX-512 on 256-bit halves, Zen 5 on full width).
func cpuDescription() -> String {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown CPU" }
    func field(_ name: String) -> String? {
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            if let colon = line.firstIndex(of: ":") { return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }
    let flags = Set((field("flags") ?? "").split(separator: " ").map(String.init))
    let relevant = ["avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16"].filter(flags.contains)
    let cores = ProcessInfo.processInfo.activeProcessorCount
    return "\(field("model name") ?? "unknown CPU"), \(cores) cores (\(relevant.joined(separator: " ")))"
}
