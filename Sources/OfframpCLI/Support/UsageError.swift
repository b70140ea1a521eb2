import ArgumentParser
import Offramp

// MARK: - Usage errors: exit status 2

/// The exit status of a command line that cannot run as given: an unknown
/// option, a value out of range, options that do not combine, an option that
/// does not apply to the model. Bad data (a file, a field of a saved config)
/// exits 1, as any other error.
let usageExitStatus: Int32 = 2

/// A usage error found once the model or data is loaded (in `run`), where
/// ArgumentParser's `ValidationError` would print the root command's usage.
struct UsageError: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// Whether an error ends the command with `usageExitStatus`: ours, or one of
/// ArgumentParser's parse and `validate()` errors (which it maps to EX_USAGE).
func isUsageError(_ error: any Error, exitCode: ExitCode) -> Bool {
    error is UsageError || exitCode == .validationFailure
}

/// Runs `body`, which checks option values with the library (a policy's
/// settings, a retention configuration): its errors name the option, so they
/// are usage errors.
func checkingOptions<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as OfframpError { throw UsageError(e.message) }
}

// MARK: - Checks of option values, for `validate()`

/// Throws a validation error (exit status 2) unless `condition` holds.
func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw ValidationError(message()) }
}

/// A whole-number option within `range`.
func requireCount(_ value: Int, _ option: String, in range: ClosedRange<Int>) throws {
    try require(range.contains(value), "\(option) must be in \(range.lowerBound)...\(range.upperBound), got \(value)")
}

/// A finite floating-point option for which `valid` holds; `range` says which
/// values those are ("in (0, 1]"). NaN and infinities never pass.
func requireNumber<F: BinaryFloatingPoint>(_ value: F, _ option: String, _ range: String, _ valid: (F) -> Bool) throws {
    try require(value.isFinite && valid(value), "\(option) must be a number \(range), got \(value)")
}

/// An option that only means something in some settings: given elsewhere it
/// would be silently ignored, so it is an error naming why.
func requireAbsent(_ value: Any?, _ option: String, _ reason: @autoclosure () -> String) throws {
    if value != nil { throw ValidationError("\(option) \(reason())") }
}
