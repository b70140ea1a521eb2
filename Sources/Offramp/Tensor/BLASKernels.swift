import COpenBLAS
import Foundation

// MARK: - Which OpenBLAS kernels run, and which should

/// OpenBLAS picks its kernels when it is loaded, from OPENBLAS_CORETYPE or
/// its own CPU detection. Debian's 0.3.21 does not know AMD Zen 4/5, and
/// machines of that kind often pin OPENBLAS_CORETYPE=Haswell: the AVX2
/// kernels, half the matrix throughput of the AVX-512 ("SkylakeX") kernels,
/// which run correctly on any CPU with the AVX-512 subsets they use.
public enum BLASKernels {
    /// The kernel set OpenBLAS chose ("Haswell", "SkylakeX", ...).
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// Kernel sets without AVX-512 that an AVX-512 CPU should not be held to.
    static let pre512 = ["", "haswell", "zen", "sandybridge", "nehalem", "prescott", "core2", "penryn", "dunnington", "atom"]

    /// "SkylakeX" when this CPU has AVX-512 F, BW, DQ, VL and CD and
    /// OPENBLAS_CORETYPE is unset or names an older kernel set (and
    /// OFFRAMP_KEEP_BLAS_CORETYPE is not set); nil otherwise. It must reach
    /// a new process's environment: the offramp command re-executes itself
    /// with it, and scripts/flags exports it for tests and benchmarks.
    public static func preferredCoreType() -> String? {
        // /proc files report size 0: read to the end rather than by size.
        guard let data = FileHandle(forReadingAtPath: "/proc/cpuinfo")?.readDataToEndOfFile(),
              let info = String(data: data, encoding: .utf8) else { return nil }
        return preferredCoreType(cpuinfo: info, environment: ProcessInfo.processInfo.environment)
    }

    /// The decision itself, from /proc/cpuinfo's text and an environment.
    public static func preferredCoreType(cpuinfo: String, environment env: [String: String]) -> String? {
        guard env["OFFRAMP_KEEP_BLAS_CORETYPE"] == nil,
              pre512.contains((env["OPENBLAS_CORETYPE"] ?? "").lowercased()),
              let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        let flags = Set(flagsLine.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init))
        let needed = ["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"]
        return needed.allSatisfy(flags.contains) ? "SkylakeX" : nil
    }
}
