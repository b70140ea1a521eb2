import Foundation
import Offramp

// MARK: - Where scripts/setup puts models and corpora

/// $OFFRAMP_HOME, default ~/.cache/offramp (where scripts/setup puts things).
func offrampHome() -> URL { CorpusPreparation.defaultHome }
