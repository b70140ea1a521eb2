// MARK: - Activations (fused with the bias add)

/// The feed-forward activations BERT-family configs name in `hidden_act`.
public enum Activation: String, Sendable, CaseIterable {
    /// erf form, BERT's default.
    case gelu
    /// tanh approximation.
    case geluNew = "gelu_new"
    case geluPytorchTanh = "gelu_pytorch_tanh"
    case relu

    public init(configName: String) throws {
        guard let a = Activation(rawValue: configName) else {
            throw OfframpError("hidden_act \"\(configName)\" is not supported (supported: \(Activation.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self = a
    }
}

/// x[r] = act(x[r] + bias) in place, for x (rows, cols).
public func biasActivation(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, cols: Int, activation: Activation) {
    parallelChunks(rows, minimumChunk: 16) { range in
        for r in range {
            let row = x + r * cols
            var i = 0
            switch activation {
            case .gelu:
                while i + 8 <= cols { store8(gelu8(load8(row + i) + load8(bias + i)), row + i); i += 8 }
            case .geluNew, .geluPytorchTanh:
                while i + 8 <= cols { store8(geluTanh8(load8(row + i) + load8(bias + i)), row + i); i += 8 }
            case .relu:
                while i + 8 <= cols {
                    let v = load8(row + i) + load8(bias + i)
                    store8(v.replacing(with: 0, where: v .< 0), row + i); i += 8
                }
            }
            // Tail lanes through the same vector code, so every element sees one formula.
            while i < cols {
                let v = Vec8(repeating: row[i] + bias[i])
                switch activation {
                case .gelu: row[i] = gelu8(v)[0]
                case .geluNew, .geluPytorchTanh: row[i] = geluTanh8(v)[0]
                case .relu: row[i] = max(v[0], 0)
                }
                i += 1
            }
        }
    }
}
