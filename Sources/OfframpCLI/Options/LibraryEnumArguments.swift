import ArgumentParser
import Offramp

// MARK: - Library enums as option values

// ArgumentParser reads these by their raw values, the spellings the options
// have always taken, and lists the valid ones in --help and in its error for
// a bad value: no hand-written parsing or "must be one of" messages.
extension ExitTask: ExpressibleByArgument {}
extension TrainingMode: ExpressibleByArgument {}
extension HeadKind: ExpressibleByArgument {}
extension HeadPooling: ExpressibleByArgument {}
extension Pooling: ExpressibleByArgument {}
extension ExtractSelection: ExpressibleByArgument {}
extension ExitPolicy.Kind: ExpressibleByArgument {}
extension CheckpointChoice: ExpressibleByArgument {}
