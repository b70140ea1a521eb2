import ArgumentParser
import Offramp

// MARK: - --kl-direction

/// The spellings of `offramp train --kl-direction`. The library's
/// `KLDirection` has no raw values, so the command line names them here.
enum KLDirectionArgument: String, CaseIterable, ExpressibleByArgument {
    /// KL(p_t ‖ p_s), the usual distillation loss.
    case teacherStudent = "teacher-student"
    /// KL(p_s ‖ p_t).
    case studentTeacher = "student-teacher"

    var direction: KLDirection { self == .teacherStudent ? .teacherStudent : .studentTeacher }
}
