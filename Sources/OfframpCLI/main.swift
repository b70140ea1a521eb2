import ArgumentParser
import Foundation
import Offramp

// OpenBLAS chooses its kernels when it is loaded, before main. On an AVX-512
// CPU held to the AVX2 kernels (see BLASKernels), run again with the AVX-512
// ones: twice the matrix throughput. OFFRAMP_KEEP_BLAS_CORETYPE=1 opts out.
if let coreType = BLASKernels.preferredCoreType() {
    setenv("OPENBLAS_CORETYPE", coreType, 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    // execv returns only on failure: carry on with the kernels we have.
}
// The async entry point explicitly: from top-level code Swift picks
// ParsableCommand's synchronous main, which never calls an async run().
func runCommand<C: AsyncParsableCommand>(_ command: C.Type) async { await command.main(nil) }
await runCommand(OfframpCommand.self)
