import ArgumentParser

// MARK: - --batch-size

/// Inputs per batch, the same option and default (32) in every command that
/// runs or trains the encoder in batches.
struct BatchOptions: ParsableArguments {
    /// Far above any useful batch, low enough that the buffers it sizes stay allocatable.
    static let most = 1 << 16

    @Option var batchSize: Int = 32

    func validate() throws { try requireCount(batchSize, "--batch-size", in: 1...Self.most) }
}
