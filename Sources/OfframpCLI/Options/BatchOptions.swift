import ArgumentParser

// MARK: - --batch-size

/// Inputs per batch, the same option and default (32) in every command that
/// runs or trains the encoder in batches.
struct BatchOptions: ParsableArguments {
    @Option var batchSize: Int = 32
}
