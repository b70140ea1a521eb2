import Offramp
import Testing

/// When Offramp switches OpenBLAS to its AVX-512 kernels, and when it leaves the setting alone.
@Suite struct BLASKernelsTests {
    static let avx512 = "processor\t: 0\nflags\t\t: fpu sse avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni\n"
    static let avx2 = "processor\t: 0\nflags\t\t: fpu sse avx2 fma\n"

    @Test func switchesOnlyAnAVX512CPUHeldToOlderKernels() {
        #expect(BLASKernels.preferredCoreType(cpuinfo: Self.avx512, environment: [:]) == "SkylakeX")
        #expect(BLASKernels.preferredCoreType(cpuinfo: Self.avx512, environment: ["OPENBLAS_CORETYPE": "Haswell"]) == "SkylakeX")
        #expect(BLASKernels.preferredCoreType(cpuinfo: Self.avx512, environment: ["OPENBLAS_CORETYPE": "SkylakeX"]) == nil)
        #expect(BLASKernels.preferredCoreType(cpuinfo: Self.avx512, environment: ["OPENBLAS_CORETYPE": "Cooperlake"]) == nil)
        #expect(BLASKernels.preferredCoreType(cpuinfo: Self.avx512, environment: ["OFFRAMP_KEEP_BLAS_CORETYPE": "1"]) == nil)
        #expect(BLASKernels.preferredCoreType(cpuinfo: Self.avx2, environment: [:]) == nil)
        // avx512f alone is not enough for the SkylakeX kernels.
        #expect(BLASKernels.preferredCoreType(cpuinfo: "flags\t: avx512f avx512cd\n", environment: [:]) == nil)
        #expect(BLASKernels.preferredCoreType(cpuinfo: "", environment: [:]) == nil)
    }
}
