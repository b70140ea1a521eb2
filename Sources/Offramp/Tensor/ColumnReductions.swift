// MARK: - Deterministic reductions over rows
//
// Parameter gradients are sums over rows (tokens). Summing them in parallel by
// rows would make the result depend on how the rows were split; instead these
// helpers split the *columns* across threads, and every column is summed over
// all rows in row order by one thread. The result is then the same bit for bit
// on every run, whatever the thread count.

/// Runs `body` on column ranges that cover 0..<cols, in parallel when the
/// work (rows × cols) is large enough. Range bounds are multiples of 8 (except
/// the last), so SIMD blocks line up the same way in every split.
@inline(__always)
func parallelColumnRanges(_ cols: Int, rows: Int, _ body: (Range<Int>) -> Void) {
    if cols <= 0 { return }
    let blocks = (cols + 7) / 8
    // One thread per ≥ 8 column-blocks and ≥ 32K elements of work.
    let byWork = max(1, rows * cols / 32768)
    let chunks = max(1, min(Threads.count, blocks / 8, byWork))
    if chunks == 1 { body(0..<cols); return }
    parallelFor(chunks) { c in
        let lo = blocks * c / chunks * 8, hi = min(cols, blocks * (c + 1) / chunks * 8)
        if lo < hi { body(lo..<hi) }
    }
}

/// sums[c] += Σ_r x[r, c] for x (rows, cols) with row stride `ld`.
///
/// The bias gradient of a linear layer (dBias += Σ_rows dOut). Each column is
/// summed in row order, then added to `sums`: deterministic, thread-count independent.
public func accumulateColumnSums(_ sums: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows: Int, cols: Int, ld: Int? = nil) {
    let stride = ld ?? cols
    if rows <= 0 { return }
    parallelColumnRanges(cols, rows: rows) { range in
        var c = range.lowerBound
        // 32 columns at a time: four independent accumulators.
        while c + 32 <= range.upperBound {
            var a0 = Vec8(), a1 = Vec8(), a2 = Vec8(), a3 = Vec8()
            var p = x + c
            for _ in 0..<rows {
                a0 += load8(p); a1 += load8(p + 8); a2 += load8(p + 16); a3 += load8(p + 24)
                p += stride
            }
            store8(load8(sums + c) + a0, sums + c); store8(load8(sums + c + 8) + a1, sums + c + 8)
            store8(load8(sums + c + 16) + a2, sums + c + 16); store8(load8(sums + c + 24) + a3, sums + c + 24)
            c += 32
        }
        while c + 8 <= range.upperBound {
            var a0 = Vec8()
            var p = x + c
            for _ in 0..<rows { a0 += load8(p); p += stride }
            store8(load8(sums + c) + a0, sums + c)
            c += 8
        }
        while c < range.upperBound {
            var a: Float = 0
            for r in 0..<rows { a += x[r * stride + c] }
            sums[c] += a
            c += 1
        }
    }
}

/// dst[index(i)] += src[i] for i in 0..<rows (rows of `width` floats), with
/// repeated destinations allowed: columns are split across threads, rows are
/// visited in order, so the sums are deterministic.
@inline(__always)
func scatterAddRowsOrdered(
    _ dst: UnsafeMutablePointer<Float>, ldDst: Int, _ src: UnsafePointer<Float>, ldSrc: Int,
    rows: Int, width: Int, scale: Float = 1, index: (Int) -> Int
) {
    if rows <= 0 { return }
    parallelColumnRanges(width, rows: rows) { range in
        let n = range.count
        for i in 0..<rows {
            let d = dst + index(i) * ldDst + range.lowerBound
            let s = src + i * ldSrc + range.lowerBound
            if scale == 1 {
                vectorAdd(d, s, count: n)
            } else {
                var c = 0
                let s8 = Vec8(repeating: scale)
                while c + 8 <= n { store8(load8(d + c).addingProduct(load8(s + c), s8), d + c); c += 8 }
                while c < n { d[c] = d[c].addingProduct(s[c], scale); c += 1 }
            }
        }
    }
}
