import Foundation

// MARK: - MR: Pang & Lee movie review sentences with ratings

/// One sentence of the MR corpus as vaderSentiment ships it
/// (movieReviewSnippets_GroundTruth.txt: "id<TAB>rating<TAB>text").
public struct MovieReview: Sendable, Equatable {
    public let id: String
    /// Mean human rating, negative to positive; its sign is the label.
    public let rating: Double
    public let text: String
}

public enum MovieReviews {
    /// Every line of the file, in order (zero ratings included).
    public static func load(_ url: URL) throws -> [MovieReview] {
        try readTextLines(url).map { number, line in
            let fields = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else {
                throw OfframpError("\(url.path):\(number): expected id<TAB>rating<TAB>text, found \(fields.count) field(s)")
            }
            guard let rating = Double(fields[1]), rating.isFinite else {
                throw OfframpError("\(url.path):\(number): rating \"\(fields[1])\" is not a number")
            }
            return MovieReview(id: String(fields[0]), rating: rating, text: String(fields[2]))
        }
    }
}
