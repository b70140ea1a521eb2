import COpenBLAS
import Dispatch
import Foundation

/// How many threads Offramp's own kernels and OpenBLAS use. Defaults to the
/// number of cores; `OFFRAMP_THREADS` overrides it.
public enum Threads {
    public static let count: Int = {
        if let s = ProcessInfo.processInfo.environment["OFFRAMP_THREADS"], let n = Int(s), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Runs OpenBLAS single-threaded, once: the matrix products split their
    /// output columns across Offramp's own workers instead (MatMul.swift),
    /// so there is one set of threads and they never fight over the cores.
    public static func configure() { _ = configured }
    private static let configured: Bool = {
        openblas_set_num_threads(1)
        return true
    }()
}

/// Runs `body(i)` for i in 0..<iterations across the worker threads.
///
/// The caller guarantees the iterations write disjoint memory; that is what
/// makes handing a non-Sendable closure (one that captures raw pointers) to
/// Dispatch sound here. Runs inline when there is one iteration or one thread.
@inline(__always)
public func parallelFor(_ iterations: Int, _ body: (Int) -> Void) {
    if iterations <= 0 { return }
    if iterations == 1 || Threads.count == 1 {
        for i in 0..<iterations { body(i) }
        return
    }
    withoutActuallyEscaping(body) { escapable in
        // The pool's workers are done with `escapable` when run returns.
        if SpinningPool.shared.run(iterations, escapable) { return }
        let sendable = unsafeBitCast(escapable, to: (@Sendable (Int) -> Void).self)
        DispatchQueue.concurrentPerform(iterations: iterations, execute: sendable)
    }
}

/// Splits 0..<count into one contiguous chunk per thread (fewer when the
/// work is small: at least `minimumChunk` items each) and runs them in parallel.
@inline(__always)
public func parallelChunks(_ count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    if count <= 0 { return }
    let chunks = max(1, min(Threads.count, count / max(minimumChunk, 1)))
    if chunks == 1 { body(0..<count); return }
    parallelFor(chunks) { c in
        let lo = count * c / chunks, hi = count * (c + 1) / chunks
        if lo < hi { body(lo..<hi) }
    }
}
