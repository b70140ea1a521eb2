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
// It is ArgumentParser's own main but for the exit status: a command line
// that cannot run as given exits 2 (ArgumentParser's parse and validation
// errors would exit 64, EX_USAGE), bad data (a file, a field) exits 1
// (docs/cli.md#exit-status).
func runCommand<C: AsyncParsableCommand>(_ command: C.Type) async -> Never {
    do {
        var parsed = try command.parseAsRoot(nil)
        if var asyncCommand = parsed as? AsyncParsableCommand { try await asyncCommand.run() } else { try parsed.run() }
        exit(0)
    } catch {
        guard isUsageError(error, exitCode: command.exitCode(for: error)) else { command.exit(withError: error) }
        printError(command.fullMessage(for: error))
        exit(usageExitStatus)
    }
}
await runCommand(OfframpCommand.self)
