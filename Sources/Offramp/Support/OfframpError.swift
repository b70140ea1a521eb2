import Foundation

/// The one error type Offramp throws for bad input: a message that names the
/// file, field or line at fault, ready to print to a user as it is.
public struct OfframpError: Error, CustomStringConvertible, LocalizedError, Equatable {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
    public var errorDescription: String? { message }
}
